/* Memory probes run under catch_exception(): each touches the address in
 * RDI once. The user_* ones run at CPL 3 and return with int $0x80. */
    .text
    .globl probe_read, probe_write, probe_call
probe_read:
    mov (%rdi), %rax
    ret
probe_write:
    movq $0x5157, (%rdi)
    ret
probe_call:
    call *%rdi
    ret

    .section .user_text, "ax"
    .globl user_probe_read, user_probe_write
user_probe_read:
    mov (%rdi), %rax
    int $0x80
user_probe_write:
    movq $0x5157, (%rdi)
    mov $1, %eax
    int $0x80
