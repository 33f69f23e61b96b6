/* sse: SSE/SSE2 data movement, integer and floating-point arithmetic,
 * conversions, MXCSR (rounding, flags, FTZ), FXSAVE/FXRSTOR, SSE faults,
 * and loops gcc vectorizes (this file is built with -O3 -msse2).
 * Instruction checks use inline asm so that gcc cannot fold them away. */
#include "runtime.h"
#include <emmintrin.h>

union xmm
{
    uint8_t b[16];
    uint16_t w[8];
    uint32_t d[4];
    uint64_t q[2];
    int16_t sw[8];
    int32_t sd[4];
    float f[4];
    double pd[2];
    __m128i v;
};

#define OP(insn, dst, src) __asm__ volatile(insn " %1, %0" : "+x"((dst).v) : "x"((src).v))
#define OP_IMM(insn, imm, dst) __asm__ volatile(insn " $" #imm ", %0" : "+x"((dst).v))
#define OP3_IMM(insn, imm, dst, src) __asm__ volatile(insn " $" #imm ", %1, %0" : "=x"((dst).v) : "x"((src).v))

static int same(const union xmm *a, const union xmm *b)
{
    return memcmp(a, b, 16) == 0;
}

static uint32_t get_mxcsr(void)
{
    uint32_t v;
    __asm__ volatile("stmxcsr %0" : "=m"(v));
    return v;
}

static void set_mxcsr(uint32_t v)
{
    __asm__ volatile("ldmxcsr %0" : : "m"(v));
}

#define MXCSR_DEFAULT 0x1F80u
#define MXCSR_IE (1u << 0)
#define MXCSR_ZE (1u << 2)
#define MXCSR_UE (1u << 4)
#define MXCSR_PE (1u << 5)
#define MXCSR_ZM (1u << 9)
#define MXCSR_RC_SHIFT 13
#define MXCSR_FTZ (1u << 15)
#define MXCSR_FLAGS 0x3Fu

static void test_setup(void)
{
    report("CR4.OSFXSR and CR4.OSXMMEXCPT set", (read_cr4() & (CR4_OSFXSR | CR4_OSXMMEXCPT)) ==
                                                    (CR4_OSFXSR | CR4_OSXMMEXCPT));
    report("CR0.MP set, CR0.EM and CR0.TS clear", (read_cr0() & (CR0_MP | CR0_EM | CR0_TS)) == CR0_MP);
    report("CPUID advertises SSE and SSE2", cpu_has_feature(1, 0, 'd', 25) && cpu_has_feature(1, 0, 'd', 26));
    report("MXCSR holds its power-up value 0x1F80", get_mxcsr() == MXCSR_DEFAULT);
    __asm__ volatile("fninit");
    set_mxcsr(MXCSR_DEFAULT);
}

static void test_moves(void)
{
    __attribute__((aligned(16))) static uint8_t buf[48];
    for (unsigned i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 7 + 1);
    union xmm a, u, expect;
    __asm__ volatile("movdqa %1, %0" : "=x"(a.v) : "m"(*(uint8_t(*)[16])buf));
    __asm__ volatile("movdqu %1, %0" : "=x"(u.v) : "m"(*(uint8_t(*)[16])(buf + 3)));
    memcpy(&expect, buf, 16);
    report("movdqa load", same(&a, &expect));
    memcpy(&expect, buf + 3, 16);
    report("movdqu unaligned load", same(&u, &expect));
    __asm__ volatile("movups %1, %0" : "=m"(*(uint8_t(*)[16])(buf + 17)) : "x"(a.v));
    report("movups unaligned store", memcmp(buf + 17, buf, 16) == 0);

    uint64_t q = 0x0123456789ABCDEFull, back;
    union xmm x;
    __asm__ volatile("movq %1, %0" : "=x"(x.v) : "r"(q));
    __asm__ volatile("movq %1, %0" : "=r"(back) : "x"(x.v));
    report("movq r64 <-> xmm (upper half zeroed)", back == q && x.q[1] == 0);
    uint32_t d;
    __asm__ volatile("movd %1, %0" : "=r"(d) : "x"(x.v));
    report("movd xmm -> r32", d == 0x89ABCDEF);
    uint32_t w;
    __asm__ volatile("pextrw $3, %1, %0" : "=r"(w) : "x"(x.v));
    report("pextrw", w == 0x0123);
    __asm__ volatile("pinsrw $7, %1, %0" : "+x"(x.v) : "r"(0xBEEFu));
    report("pinsrw", x.w[7] == 0xBEEF && x.q[0] == q);
}

static void test_integer(void)
{
    union xmm a = {.d = {1, 2, 3, 0xFFFFFFFF}}, b = {.d = {10, 20, 30, 1}};
    union xmm r = a, e = {.d = {11, 22, 33, 0}};
    OP("paddd", r, b);
    report("paddd (with wrap-around)", same(&r, &e));
    r = a;
    OP("psubd", r, b);
    e = (union xmm){.d = {0xFFFFFFF7, 0xFFFFFFEE, 0xFFFFFFE5, 0xFFFFFFFE}};
    report("psubd", same(&r, &e));

    union xmm q1 = {.q = {0xFFFFFFFFFFFFFFFFull, 5}}, q2 = {.q = {1, 7}};
    OP("paddq", q1, q2);
    report("paddq", q1.q[0] == 0 && q1.q[1] == 12);

    union xmm m1 = {.sw = {1000, -3, 300, 7, -32768, 2, 16384, 0}};
    union xmm m2 = {.sw = {1000, 5, 300, -7, 2, 2, 4, 9}};
    union xmm lo = m1, hi = m1;
    OP("pmullw", lo, m2);
    OP("pmulhw", hi, m2);
    int ok = 1;
    for (int i = 0; i < 8; i++)
    {
        int32_t p = (int32_t)m1.sw[i] * m2.sw[i];
        ok &= lo.w[i] == (uint16_t)p && hi.sw[i] == (int16_t)(p >> 16);
    }
    report("pmullw / pmulhw", ok);
    union xmm u1 = {.d = {0xFFFFFFFF, 9, 0x10000, 9}}, u2 = {.d = {0xFFFFFFFF, 9, 0x10000, 9}};
    OP("pmuludq", u1, u2);
    report("pmuludq", u1.q[0] == 0xFFFFFFFE00000001ull && u1.q[1] == 0x100000000ull);

    union xmm s1 = {.b = {250, 5, 128, 0}}, s2 = {.b = {10, 10, 128, 0}};
    union xmm s = s1;
    OP("paddusb", s, s2);
    report("paddusb saturates at 255", s.b[0] == 255 && s.b[1] == 15 && s.b[2] == 255);
    s = s1;
    OP("psubusb", s, s2);
    report("psubusb saturates at 0", s.b[0] == 240 && s.b[1] == 0 && s.b[2] == 0);
    union xmm w1 = {.sw = {32767, -32768, 100}}, w2 = {.sw = {1, -1, -200}};
    OP("paddsw", w1, w2);
    report("paddsw saturates", w1.sw[0] == 32767 && w1.sw[1] == -32768 && w1.sw[2] == -100);

    union xmm c1 = {.b = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}};
    union xmm c2 = {.b = {1, 0, 3, 0, 5, 0, 7, 0, 0, 10, 0, 12, 0, 14, 0, 16}};
    OP("pcmpeqb", c1, c2);
    uint32_t mask;
    __asm__ volatile("pmovmskb %1, %0" : "=r"(mask) : "x"(c1.v));
    report("pcmpeqb + pmovmskb", mask == 0xAA55);
    union xmm g1 = {.sd = {5, -1, 7, 100}}, g2 = {.sd = {4, 0, 7, -100}};
    OP("pcmpgtd", g1, g2);
    report("pcmpgtd (signed)", g1.d[0] == 0xFFFFFFFF && g1.d[1] == 0 && g1.d[2] == 0 && g1.d[3] == 0xFFFFFFFF);

    union xmm p = {.d = {1, 2, 3, 4}}, pr;
    OP3_IMM("pshufd", 0x1B, pr, p);
    report("pshufd $0x1B reverses dwords", pr.d[0] == 4 && pr.d[1] == 3 && pr.d[2] == 2 && pr.d[3] == 1);
    OP3_IMM("pshufd", 0x00, pr, p);
    report("pshufd $0 broadcasts", pr.d[0] == 1 && pr.d[3] == 1);

    union xmm ua = {.b = {0, 1, 2, 3, 4, 5, 6, 7}}, ub = {.b = {0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87}};
    OP("punpcklbw", ua, ub);
    report("punpcklbw interleaves", ua.w[0] == 0x8000 && ua.w[1] == 0x8101 && ua.w[7] == 0x8707);

    union xmm sh = {.q = {0x8000000000000001ull, 0x00000000000000F0ull}};
    union xmm t = sh;
    OP_IMM("psllq", 4, t);
    report("psllq $4", t.q[0] == 0x10 && t.q[1] == 0xF00);
    t = sh;
    OP_IMM("psrldq", 8, t);
    report("psrldq $8 shifts bytes", t.q[0] == 0xF0 && t.q[1] == 0);
    union xmm ra = {.sd = {-16, 16, -1, 0x40000000}};
    OP_IMM("psrad", 3, ra);
    report("psrad $3 keeps the sign", ra.sd[0] == -2 && ra.sd[1] == 2 && ra.sd[2] == -1 && ra.sd[3] == 0x08000000);

    union xmm l1 = {.q = {0xFF00FF00FF00FF00ull, 0x0F0F0F0F0F0F0F0Full}};
    union xmm l2 = {.q = {0xFFFF0000FFFF0000ull, 0x00FF00FF00FF00FFull}};
    union xmm x = l1;
    OP("pand", x, l2);
    ok = x.q[0] == 0xFF000000FF000000ull && x.q[1] == 0x000F000F000F000Full;
    x = l1;
    OP("pandn", x, l2);
    ok &= x.q[0] == 0x00FF000000FF0000ull && x.q[1] == 0x00F000F000F000F0ull;
    x = l1;
    OP("por", x, l2);
    ok &= x.q[0] == 0xFFFFFF00FFFFFF00ull;
    x = l1;
    OP("pxor", x, l2);
    ok &= x.q[0] == 0x00FFFF0000FFFF00ull;
    report("pand / pandn / por / pxor", ok);

    union xmm k1 = {.sw = {-5, 0, 255, 300, 1, 2, 3, 4}}, k2 = {.sw = {5, 6, 7, 8, 9, 10, 11, -1}};
    OP("packuswb", k1, k2);
    report("packuswb saturates to unsigned bytes",
           k1.b[0] == 0 && k1.b[2] == 255 && k1.b[3] == 255 && k1.b[8] == 5 && k1.b[15] == 0);
    union xmm n1 = {.sd = {70000, -70000, 5, -5}}, n2 = {.sd = {0}};
    OP("packssdw", n1, n2);
    report("packssdw saturates to signed words",
           n1.sw[0] == 32767 && n1.sw[1] == -32768 && n1.sw[2] == 5 && n1.sw[3] == -5);
}

static void test_float(void)
{
    union xmm a = {.f = {1.5f, 2.0f, -3.0f, 0.25f}}, b = {.f = {0.25f, 4.0f, 3.0f, 8.0f}};
    union xmm r = a;
    OP("addps", r, b);
    report("addps", r.f[0] == 1.75f && r.f[1] == 6.0f && r.f[2] == 0.0f && r.f[3] == 8.25f);
    r = a;
    OP("mulps", r, b);
    report("mulps", r.f[0] == 0.375f && r.f[1] == 8.0f && r.f[2] == -9.0f && r.f[3] == 2.0f);
    r = a;
    OP("divps", r, b);
    report("divps", r.f[0] == 6.0f && r.f[1] == 0.5f && r.f[2] == -1.0f && r.f[3] == 0.03125f);
    union xmm sq = {.f = {4.0f, 2.25f, 0.0f, 1e10f}};
    OP("sqrtps", sq, sq);
    report("sqrtps", sq.f[0] == 2.0f && sq.f[1] == 1.5f && sq.f[2] == 0.0f && sq.f[3] == 1e5f);
    r = a;
    OP("minps", r, b);
    report("minps", r.f[0] == 0.25f && r.f[1] == 2.0f && r.f[2] == -3.0f && r.f[3] == 0.25f);
    r = a;
    OP("cmpltps", r, b);
    report("cmpltps gives all-ones masks", r.d[0] == 0 && r.d[1] == 0xFFFFFFFF && r.d[2] == 0xFFFFFFFF &&
                                               r.d[3] == 0xFFFFFFFF);

    union xmm d = {.pd = {1.0, 10.0}}, e = {.pd = {4.0, 0.5}};
    r = d;
    OP("divpd", r, e);
    report("divpd", r.pd[0] == 0.25 && r.pd[1] == 20.0);
    r = d;
    OP("mulsd", r, e);
    report("mulsd leaves the upper lane", r.pd[0] == 4.0 && r.pd[1] == 10.0);
    union xmm s = {.pd = {2.25, 99.0}};
    OP("sqrtsd", s, s);
    report("sqrtsd", s.pd[0] == 1.5 && s.pd[1] == 99.0);
    union xmm big = {.pd = {1e300, 0}}, tiny = {.pd = {1e-300, 0}};
    r = big;
    OP("subsd", r, tiny);
    report("subsd absorbs a tiny operand", r.pd[0] == 1e300);
}

/* ucomisd/comisd set ZF, PF, CF; OF, SF, AF are cleared. */
static uint64_t ucomisd_flags(double a, double b, int signaling)
{
    union xmm x = {.pd = {a}}, y = {.pd = {b}};
    uint64_t flags;
    if (signaling)
        __asm__ volatile("comisd %2, %1; pushfq; popq %0" : "=r"(flags) : "x"(x.v), "x"(y.v) : "cc");
    else
        __asm__ volatile("ucomisd %2, %1; pushfq; popq %0" : "=r"(flags) : "x"(x.v), "x"(y.v) : "cc");
    return flags & 0x8D5; /* OF SF ZF AF PF CF */
}

static void test_compare(void)
{
    union xmm nan = {.q = {0x7FF8000000000000ull}};
    report("ucomisd less: CF=1", ucomisd_flags(1.0, 2.0, 0) == 0x001);
    report("ucomisd greater: all clear", ucomisd_flags(3.0, 2.0, 0) == 0);
    report("ucomisd equal: ZF=1", ucomisd_flags(2.0, 2.0, 0) == 0x040);
    set_mxcsr(MXCSR_DEFAULT);
    report("ucomisd unordered: ZF=PF=CF=1", ucomisd_flags(nan.pd[0], 2.0, 0) == 0x045);
    report("ucomisd with a QNaN does not signal invalid", !(get_mxcsr() & MXCSR_IE));
    report("comisd unordered: ZF=PF=CF=1", ucomisd_flags(nan.pd[0], 2.0, 1) == 0x045);
    uint32_t m = get_mxcsr();
    report_quirk(m & MXCSR_IE, !(m & MXCSR_IE), "QEMU 7.2 TCG does not raise MXCSR flags",
                 "comisd with a QNaN sets MXCSR.IE");
    set_mxcsr(MXCSR_DEFAULT);
}

static int64_t cvtsd2si(double v)
{
    union xmm x = {.pd = {v}};
    int64_t r;
    __asm__ volatile("cvtsd2si %1, %0" : "=r"(r) : "x"(x.v));
    return r;
}

static int64_t cvttsd2si(double v)
{
    union xmm x = {.pd = {v}};
    int64_t r;
    __asm__ volatile("cvttsd2si %1, %0" : "=r"(r) : "x"(x.v));
    return r;
}

static void test_convert(void)
{
    union xmm x;
    int64_t n = 123456789;
    __asm__ volatile("cvtsi2sdq %1, %0" : "=x"(x.v) : "r"(n));
    report("cvtsi2sd", x.pd[0] == 123456789.0);
    report("cvttsd2si truncates toward zero", cvttsd2si(2.9) == 2 && cvttsd2si(-2.9) == -2);
    report("cvtsd2si rounds to nearest even (RC=00)",
           cvtsd2si(2.5) == 2 && cvtsd2si(3.5) == 4 && cvtsd2si(-2.5) == -2);
    set_mxcsr(MXCSR_DEFAULT | (1u << MXCSR_RC_SHIFT));
    report("cvtsd2si rounds down (RC=01)", cvtsd2si(2.9) == 2 && cvtsd2si(-2.1) == -3);
    set_mxcsr(MXCSR_DEFAULT | (2u << MXCSR_RC_SHIFT));
    report("cvtsd2si rounds up (RC=10)", cvtsd2si(2.1) == 3 && cvtsd2si(-2.9) == -2);
    set_mxcsr(MXCSR_DEFAULT | (3u << MXCSR_RC_SHIFT));
    report("cvtsd2si truncates (RC=11)", cvtsd2si(2.9) == 2 && cvtsd2si(-2.9) == -2);
    report("MXCSR reads back the rounding control",
           (get_mxcsr() & ~MXCSR_FLAGS) == (MXCSR_DEFAULT | (3u << MXCSR_RC_SHIFT)));
    set_mxcsr(MXCSR_DEFAULT);
    report("cvttsd2si out of range gives the integer indefinite",
           (uint64_t)cvttsd2si(1e20) == 0x8000000000000000ull);
    set_mxcsr(MXCSR_DEFAULT);

    union xmm f = {.f = {1.5f, -2.5f, 3.49f, 1e9f}}, i;
    __asm__ volatile("cvtps2dq %1, %0" : "=x"(i.v) : "x"(f.v));
    report("cvtps2dq", i.sd[0] == 2 && i.sd[1] == -2 && i.sd[2] == 3 && i.sd[3] == 1000000000);
    union xmm k = {.sd = {-7, 0, 16777217, 3}}, g;
    __asm__ volatile("cvtdq2ps %1, %0" : "=x"(g.v) : "x"(k.v));
    report("cvtdq2ps (16777217 rounds to 16777216)",
           g.f[0] == -7.0f && g.f[1] == 0.0f && g.f[2] == 16777216.0f && g.f[3] == 3.0f);
    union xmm sd = {.pd = {0.1, 0}}, ss;
    __asm__ volatile("cvtsd2ss %1, %0" : "=x"(ss.v) : "x"(sd.v));
    report("cvtsd2ss", ss.f[0] == 0.1f);
}

static void test_mxcsr_flags(void)
{
    union xmm one = {.pd = {1.0}}, zero = {.pd = {0.0}}, three = {.pd = {3.0}}, neg = {.pd = {-1.0}};
    int qemu_no_flags = 0;

    set_mxcsr(MXCSR_DEFAULT);
    union xmm r = one;
    OP("divsd", r, zero);
    uint32_t m = get_mxcsr();
    report("1/0 (masked) gives +infinity", r.q[0] == 0x7FF0000000000000ull);
    qemu_no_flags = (m & MXCSR_FLAGS) == 0;
    report_quirk((m & MXCSR_FLAGS) == MXCSR_ZE, qemu_no_flags, "QEMU 7.2 TCG does not raise MXCSR flags",
                 "1/0 sets MXCSR.ZE only");

    set_mxcsr(MXCSR_DEFAULT);
    r = one;
    OP("divsd", r, three);
    m = get_mxcsr();
    report_quirk((m & MXCSR_FLAGS) == MXCSR_PE, qemu_no_flags, "QEMU 7.2 TCG does not raise MXCSR flags",
                 "1/3 sets MXCSR.PE only");

    set_mxcsr(MXCSR_DEFAULT);
    r = neg;
    OP("sqrtsd", r, r);
    m = get_mxcsr();
    report("sqrt(-1) (masked) gives the default NaN", r.q[0] == 0xFFF8000000000000ull);
    report_quirk((m & MXCSR_FLAGS) == MXCSR_IE, qemu_no_flags, "QEMU 7.2 TCG does not raise MXCSR flags",
                 "sqrt(-1) sets MXCSR.IE only");

    /* FTZ: a result below the normal range becomes +0. */
    union xmm min = {.q = {0x0010000000000000ull}}, half = {.pd = {0.5}};
    set_mxcsr(MXCSR_DEFAULT);
    r = min;
    OP("mulsd", r, half);
    report("DBL_MIN * 0.5 without FTZ is the denormal 0x0008000000000000", r.q[0] == 0x0008000000000000ull);
    set_mxcsr(MXCSR_DEFAULT | MXCSR_FTZ);
    r = min;
    OP("mulsd", r, half);
    report("DBL_MIN * 0.5 with FTZ is +0", r.q[0] == 0);
    set_mxcsr(MXCSR_DEFAULT);
}

static void bad_ldmxcsr(void *arg)
{
    set_mxcsr(MXCSR_DEFAULT | (1u << 20));
}

static void misaligned_movaps(void *arg)
{
    __m128i v;
    __asm__ volatile("movaps (%1), %0" : "=x"(v) : "r"(arg));
}

static void unmasked_divide(void *arg)
{
    union xmm r = {.pd = {1.0}}, z = {.pd = {0.0}};
    set_mxcsr(MXCSR_DEFAULT & ~MXCSR_ZM);
    OP("divsd", r, z);
}

static void test_faults(void)
{
    set_mxcsr(MXCSR_DEFAULT);
    int v = catch_exception(bad_ldmxcsr, 0);
    uint32_t m = get_mxcsr();
    set_mxcsr(MXCSR_DEFAULT);
    report_quirk(v == GP_VECTOR && exc_last.error_code == 0 && m == MXCSR_DEFAULT, v == -1,
                 "QEMU 7.2 TCG loads reserved MXCSR bits without #GP",
                 "ldmxcsr with a reserved bit raises #GP(0) and leaves MXCSR unchanged");

    __attribute__((aligned(16))) static uint8_t buf[32];
    v = catch_exception(misaligned_movaps, buf + 8);
    report("movaps from a misaligned address raises #GP(0)", v == GP_VECTOR && exc_last.error_code == 0);
    v = catch_exception(misaligned_movaps, buf + 16);
    report("movaps from an aligned address does not fault", v == -1);

    v = catch_exception(unmasked_divide, 0);
    set_mxcsr(MXCSR_DEFAULT);
    report_quirk(v == XM_VECTOR, v == -1, "QEMU 7.2 TCG does not raise SIMD exceptions",
                 "unmasked divide by zero with CR4.OSXMMEXCPT=1 raises #XM");
}

static void test_fxsave(void)
{
    __attribute__((aligned(16))) static uint8_t area[512], area2[512];
    union xmm pattern = {.q = {0x1122334455667788ull, 0x99AABBCCDDEEFF00ull}}, after;
    set_mxcsr(MXCSR_DEFAULT | (2u << MXCSR_RC_SHIFT));
    __asm__ volatile("movdqa %1, %%xmm5; fxsave %0" : "=m"(area) : "x"(pattern.v) : "xmm5");
    uint32_t saved_mxcsr;
    memcpy(&saved_mxcsr, area + 24, 4);
    report("fxsave stores MXCSR at offset 24", saved_mxcsr == (MXCSR_DEFAULT | (2u << MXCSR_RC_SHIFT)));
    report("fxsave stores XMM5 at offset 160 + 5 * 16", memcmp(area + 160 + 5 * 16, &pattern, 16) == 0);
    uint32_t mask;
    memcpy(&mask, area + 28, 4);
    report("fxsave stores a non-zero MXCSR_MASK", mask != 0);

    set_mxcsr(MXCSR_DEFAULT);
    __asm__ volatile("pxor %%xmm5, %%xmm5" ::: "xmm5");
    __asm__ volatile("fxrstor %0" : : "m"(area));
    __asm__ volatile("movdqa %%xmm5, %0" : "=x"(after.v));
    report("fxrstor restores XMM5", same(&after, &pattern));
    report("fxrstor restores MXCSR", get_mxcsr() == (MXCSR_DEFAULT | (2u << MXCSR_RC_SHIFT)));
    __asm__ volatile("fxsave %0" : "=m"(area2));
    report("fxsave after fxrstor gives the same XMM area", memcmp(area + 160, area2 + 160, 256) == 0);
    set_mxcsr(MXCSR_DEFAULT);
}

/* Loops for the auto-vectorizer; the data comes from memory gcc cannot see
 * through, and each expected value has a closed form. */
#define N 1024
static int32_t vi[N], vj[N];
static float vf[N], vg[N];
static uint8_t vb[N];
static uint16_t vw[N];

__attribute__((noinline)) static int64_t sum_products(const int32_t *a, const int32_t *b, int n)
{
    int32_t s = 0;
    for (int i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

__attribute__((noinline)) static void saxpy(float *y, const float *x, float a, int n)
{
    for (int i = 0; i < n; i++)
        y[i] = a * x[i] + y[i];
}

__attribute__((noinline)) static int count_equal(const uint8_t *p, uint8_t v, int n)
{
    int c = 0;
    for (int i = 0; i < n; i++)
        c += p[i] == v;
    return c;
}

__attribute__((noinline)) static void add_saturate(uint16_t *p, uint16_t v, int n)
{
    for (int i = 0; i < n; i++)
    {
        uint32_t s = (uint32_t)p[i] + v;
        p[i] = s > 0xFFFF ? 0xFFFF : (uint16_t)s;
    }
}

__attribute__((noinline)) static int32_t max_of(const int32_t *p, int n)
{
    int32_t m = p[0];
    for (int i = 1; i < n; i++)
        m = p[i] > m ? p[i] : m;
    return m;
}

static void test_vectorized(void)
{
    for (int i = 0; i < N; i++)
    {
        vi[i] = i;
        vj[i] = 3;
        vf[i] = (float)i;
        vg[i] = 1.0f;
        vb[i] = (uint8_t)(i % 5);
        vw[i] = (uint16_t)(i * 64);
    }
    __asm__ volatile("" ::: "memory");
    report("vectorized dot product", sum_products(vi, vj, N) == 3 * (N - 1) * N / 2);
    saxpy(vg, vf, 2.0f, N);
    int ok = 1;
    for (int i = 0; i < N; i++)
        ok &= vg[i] == 2.0f * i + 1.0f;
    report("vectorized saxpy", ok);
    report("vectorized byte count", count_equal(vb, 3, N) == (N - 1 - 3) / 5 + 1);
    add_saturate(vw, 0x8000, N);
    ok = 1;
    for (int i = 0; i < N; i++)
    {
        uint32_t s = (uint32_t)(i * 64) + 0x8000;
        ok &= vw[i] == (s > 0xFFFF ? 0xFFFF : s);
    }
    report("vectorized saturating add", ok);
    vi[517] = 1 << 30;
    report("vectorized max", max_of(vi, N) == 1 << 30);
}

int main(void)
{
    test_setup();
    test_moves();
    test_integer();
    test_float();
    test_compare();
    test_convert();
    test_mxcsr_flags();
    test_faults();
    test_fxsave();
    test_vectorized();
    return 0;
}
