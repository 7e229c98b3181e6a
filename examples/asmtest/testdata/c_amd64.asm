; int c_answer(void) { return 42; }: C code, which expects SP 16-byte aligned at the call.
c_answer:
    mov eax, 42
    ret
