; The few C library routines the model's C side needs, in Intel syntax.

; void x_cgo_getstackbound(uintptr bounds[2]): the calling thread's stack, low and high
; end, as pthread_getattr_np and pthread_attr_getstack report it (runtime/cgo's
; gcc_stack_unix.c). The model's threads keep their stack block in their TLS, where
; glibc's struct pthread keeps it: FS+0x20 the low end, FS+0x28 the high end.
x_cgo_getstackbound:
    mov rax, qword ptr fs:[0x20]
    mov qword ptr [rdi], rax
    mov rax, qword ptr fs:[0x28]
    mov qword ptr [rdi+8], rax
    ret

; thread_exit: where the start routine of a thread C created returns (pthread_exit(0)).
thread_exit:
    mov edi, 0
    mov eax, 60         ; exit
    syscall
    ud2
