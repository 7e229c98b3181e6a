; The few C library routines the model's C side needs, in Intel syntax.

; thread_exit: where the start routine of a thread C created returns (pthread_exit(0)).
thread_exit:
    mov edi, 0
    mov eax, 60         ; exit
    syscall
    ud2
