using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Cpu.Differential;

/// <summary>
/// The differential catalog: register and memory forms of the ALU, shift/rotate, multiply/divide,
/// bit and BMI/ADX/POPCNT/LZCNT/CRC32 instructions, each with the flags the SDM leaves undefined.
/// </summary>
public static class DiffCases
{
    private const ulong Logic = DiffCase.Af;
    private const ulong MulUndefined = DiffCase.Sf | DiffCase.Zf | DiffCase.Af | DiffCase.Pf;
    private const ulong BitTestUndefined = DiffCase.Of | DiffCase.Sf | DiffCase.Af | DiffCase.Pf;
    private const ulong ScanUndefined = DiffCase.Cf | DiffCase.Of | DiffCase.Sf | DiffCase.Af | DiffCase.Pf;
    private const ulong CountUndefined = DiffCase.Of | DiffCase.Sf | DiffCase.Af | DiffCase.Pf;

    // ------------------------------------------------------------------ ALU

    public static IEnumerable<DiffCase> Alu()
    {
        (string Name, Action<Assembler, AssemblerRegister8, AssemblerRegister8> R8,
            Action<Assembler, AssemblerRegister16, AssemblerRegister16> R16,
            Action<Assembler, AssemblerRegister32, AssemblerRegister32> R32,
            Action<Assembler, AssemblerRegister64, AssemblerRegister64> R64, ulong Undef)[] ops =
        [
            ("add", (a, x, y) => a.add(x, y), (a, x, y) => a.add(x, y), (a, x, y) => a.add(x, y), (a, x, y) => a.add(x, y), 0),
            ("adc", (a, x, y) => a.adc(x, y), (a, x, y) => a.adc(x, y), (a, x, y) => a.adc(x, y), (a, x, y) => a.adc(x, y), 0),
            ("sub", (a, x, y) => a.sub(x, y), (a, x, y) => a.sub(x, y), (a, x, y) => a.sub(x, y), (a, x, y) => a.sub(x, y), 0),
            ("sbb", (a, x, y) => a.sbb(x, y), (a, x, y) => a.sbb(x, y), (a, x, y) => a.sbb(x, y), (a, x, y) => a.sbb(x, y), 0),
            ("cmp", (a, x, y) => a.cmp(x, y), (a, x, y) => a.cmp(x, y), (a, x, y) => a.cmp(x, y), (a, x, y) => a.cmp(x, y), 0),
            ("and", (a, x, y) => a.and(x, y), (a, x, y) => a.and(x, y), (a, x, y) => a.and(x, y), (a, x, y) => a.and(x, y), Logic),
            ("or", (a, x, y) => a.or(x, y), (a, x, y) => a.or(x, y), (a, x, y) => a.or(x, y), (a, x, y) => a.or(x, y), Logic),
            ("xor", (a, x, y) => a.xor(x, y), (a, x, y) => a.xor(x, y), (a, x, y) => a.xor(x, y), (a, x, y) => a.xor(x, y), Logic),
            ("test", (a, x, y) => a.test(x, y), (a, x, y) => a.test(x, y), (a, x, y) => a.test(x, y), (a, x, y) => a.test(x, y), Logic),
        ];
        foreach (var op in ops)
        {
            yield return new DiffCase($"{op.Name} al,bl", a => op.R8(a, al, bl)) { UndefinedMask = op.Undef };
            yield return new DiffCase($"{op.Name} ah,bh", a => op.R8(a, ah, bh)) { UndefinedMask = op.Undef };
            yield return new DiffCase($"{op.Name} sil,r9b", a => op.R8(a, sil, r9b)) { UndefinedMask = op.Undef };
            yield return new DiffCase($"{op.Name} ax,bx", a => op.R16(a, ax, bx)) { UndefinedMask = op.Undef };
            yield return new DiffCase($"{op.Name} eax,ebx", a => op.R32(a, eax, ebx)) { UndefinedMask = op.Undef };
            yield return new DiffCase($"{op.Name} r10d,r10d", a => op.R32(a, r10d, r10d)) { UndefinedMask = op.Undef };
            yield return new DiffCase($"{op.Name} rax,rbx", a => op.R64(a, rax, rbx)) { UndefinedMask = op.Undef };
            yield return new DiffCase($"{op.Name} r12,r13", a => op.R64(a, r12, r13)) { UndefinedMask = op.Undef };
        }

        // Immediates, including sign-extended imm8 and the accumulator short forms.
        yield return new DiffCase("add al,0x80", a => a.add(al, 0x80));
        yield return new DiffCase("adc bh,0x7f", a => a.adc(bh, 0x7F));
        yield return new DiffCase("sub cx,0x8001", a => a.sub(cx, unchecked((short)0x8001)));
        yield return new DiffCase("sbb dx,-1 (imm8)", a => a.sbb(dx, -1));
        yield return new DiffCase("add ebx,-128 (imm8)", a => a.add(ebx, -128));
        yield return new DiffCase("cmp eax,0x7fffffff", a => a.cmp(eax, 0x7FFF_FFFF));
        yield return new DiffCase("add rax,-2 (imm8)", a => a.add(rax, -2));
        yield return new DiffCase("sub r9,0x80000000 (imm32 sx)", a => a.sub(r9, int.MinValue));
        yield return new DiffCase("and rdx,-16", a => a.and(rdx, -16)) { UndefinedMask = Logic };
        yield return new DiffCase("or ecx,0x10000", a => a.or(ecx, 0x10000)) { UndefinedMask = Logic };
        yield return new DiffCase("xor r11w,0x5555", a => a.xor(r11w, 0x5555)) { UndefinedMask = Logic };
        yield return new DiffCase("test al,0x81", a => a.test(al, 0x81)) { UndefinedMask = Logic };
        yield return new DiffCase("test rbx,-1", a => a.test(rbx, -1)) { UndefinedMask = Logic };
        yield return new DiffCase("cmp r14b,0xfe", a => a.cmp(r14b, 0xFE));

        // Unary.
        foreach (var (name, build) in Unary())
        {
            yield return new DiffCase(name, build);
        }

        // Memory forms (RSI points at random data).
        yield return new DiffCase("add [rsi],ebx", a => a.add(__dword_ptr[rsi], ebx)) { UsesMemory = true };
        yield return new DiffCase("lock adc [rsi+3],bx", a => a.@lock.adc(__word_ptr[rsi + 3], bx)) { UsesMemory = true };
        yield return new DiffCase("lock sub qword [rsi-8],rcx", a => a.@lock.sub(__qword_ptr[rsi - 8], rcx)) { UsesMemory = true };
        yield return new DiffCase("sbb al,[rsi+1]", a => a.sbb(al, __byte_ptr[rsi + 1])) { UsesMemory = true };
        yield return new DiffCase("cmp rdx,[rsi]", a => a.cmp(rdx, __qword_ptr[rsi])) { UsesMemory = true };
        yield return new DiffCase("and byte [rsi],0x3c", a => a.and(__byte_ptr[rsi], 0x3C)) { UsesMemory = true, UndefinedMask = Logic };
        yield return new DiffCase("lock or dword [rsi+5],-7", a => a.@lock.or(__dword_ptr[rsi + 5], -7)) { UsesMemory = true, UndefinedMask = Logic };
        yield return new DiffCase("test [rsi],r8w", a => a.test(__word_ptr[rsi], r8w)) { UsesMemory = true, UndefinedMask = Logic };
        yield return new DiffCase("lock inc qword [rsi]", a => a.@lock.inc(__qword_ptr[rsi])) { UsesMemory = true };
        yield return new DiffCase("dec word [rsi+7]", a => a.dec(__word_ptr[rsi + 7])) { UsesMemory = true };
        yield return new DiffCase("lock neg byte [rsi+2]", a => a.@lock.neg(__byte_ptr[rsi + 2])) { UsesMemory = true };
        yield return new DiffCase("not dword [rsi]", a => a.not(__dword_ptr[rsi])) { UsesMemory = true };

        // Chains: lazy flags handed from one instruction to the next (INC/DEC keep CF).
        yield return new DiffCase("chain add/inc/adc/dec/sbb", a =>
        {
            a.add(eax, ebx);
            a.inc(ecx);
            a.adc(rdx, r8);
            a.dec(r9b);
            a.sbb(r10w, r11w);
        });
        yield return new DiffCase("chain sub/neg/adc/cmp/sbb", a =>
        {
            a.sub(al, bl);
            a.neg(rcx);
            a.adc(edx, 0);
            a.cmp(r8, r9);
            a.sbb(r10, r10);
        });
    }

    private static IEnumerable<(string, Action<Assembler>)> Unary()
    {
        yield return ("inc al", a => a.inc(al));
        yield return ("inc ah", a => a.inc(ah));
        yield return ("inc bx", a => a.inc(bx));
        yield return ("inc ecx", a => a.inc(ecx));
        yield return ("inc r9", a => a.inc(r9));
        yield return ("dec dl", a => a.dec(dl));
        yield return ("dec si", a => a.dec(si));
        yield return ("dec edi", a => a.dec(edi));
        yield return ("dec rax", a => a.dec(rax));
        yield return ("neg bl", a => a.neg(bl));
        yield return ("neg ch", a => a.neg(ch));
        yield return ("neg ax", a => a.neg(ax));
        yield return ("neg r8d", a => a.neg(r8d));
        yield return ("neg rdx", a => a.neg(rdx));
        yield return ("not cl", a => a.not(cl));
        yield return ("not dx", a => a.not(dx));
        yield return ("not eax", a => a.not(eax));
        yield return ("not r15", a => a.not(r15));
    }

    // ------------------------------------------------------------------ shifts and rotates

    private enum Sh
    {
        Shl,
        Shr,
        Sar,
        Rol,
        Ror,
        Rcl,
        Rcr,
    }

    /// <summary>Flags the SDM leaves undefined for a group-2 shift or rotate of <paramref name="bits"/> by <paramref name="rawCount"/>.</summary>
    private static ulong ShiftUndefined(Sh op, int bits, ulong rawCount)
    {
        ulong count = rawCount & (bits == 64 ? 63UL : 31UL);
        if (count == 0)
        {
            return 0;
        }
        ulong u = count == 1 ? 0 : DiffCase.Of;
        switch (op)
        {
            case Sh.Shl or Sh.Shr:
                u |= DiffCase.Af;
                if (count >= (ulong)bits)
                {
                    u |= DiffCase.Cf;
                }
                break;
            case Sh.Sar:
                u |= DiffCase.Af;
                break;
        }
        return u;
    }

    private static void Emit(Assembler a, Sh op, AssemblerRegister8 r, AssemblerRegister8 cnt)
    {
        switch (op)
        {
            case Sh.Shl: a.shl(r, cnt); break;
            case Sh.Shr: a.shr(r, cnt); break;
            case Sh.Sar: a.sar(r, cnt); break;
            case Sh.Rol: a.rol(r, cnt); break;
            case Sh.Ror: a.ror(r, cnt); break;
            case Sh.Rcl: a.rcl(r, cnt); break;
            default: a.rcr(r, cnt); break;
        }
    }

    private static void Emit(Assembler a, Sh op, AssemblerRegister16 r, AssemblerRegister8 cnt)
    {
        switch (op)
        {
            case Sh.Shl: a.shl(r, cnt); break;
            case Sh.Shr: a.shr(r, cnt); break;
            case Sh.Sar: a.sar(r, cnt); break;
            case Sh.Rol: a.rol(r, cnt); break;
            case Sh.Ror: a.ror(r, cnt); break;
            case Sh.Rcl: a.rcl(r, cnt); break;
            default: a.rcr(r, cnt); break;
        }
    }

    private static void Emit(Assembler a, Sh op, AssemblerRegister32 r, AssemblerRegister8 cnt)
    {
        switch (op)
        {
            case Sh.Shl: a.shl(r, cnt); break;
            case Sh.Shr: a.shr(r, cnt); break;
            case Sh.Sar: a.sar(r, cnt); break;
            case Sh.Rol: a.rol(r, cnt); break;
            case Sh.Ror: a.ror(r, cnt); break;
            case Sh.Rcl: a.rcl(r, cnt); break;
            default: a.rcr(r, cnt); break;
        }
    }

    private static void Emit(Assembler a, Sh op, AssemblerRegister64 r, AssemblerRegister8 cnt)
    {
        switch (op)
        {
            case Sh.Shl: a.shl(r, cnt); break;
            case Sh.Shr: a.shr(r, cnt); break;
            case Sh.Sar: a.sar(r, cnt); break;
            case Sh.Rol: a.rol(r, cnt); break;
            case Sh.Ror: a.ror(r, cnt); break;
            case Sh.Rcl: a.rcl(r, cnt); break;
            default: a.rcr(r, cnt); break;
        }
    }

    private static void EmitImm(Assembler a, Sh op, AssemblerRegister32 r, byte cnt)
    {
        switch (op)
        {
            case Sh.Shl: a.shl(r, cnt); break;
            case Sh.Shr: a.shr(r, cnt); break;
            case Sh.Sar: a.sar(r, cnt); break;
            case Sh.Rol: a.rol(r, cnt); break;
            case Sh.Ror: a.ror(r, cnt); break;
            case Sh.Rcl: a.rcl(r, cnt); break;
            default: a.rcr(r, cnt); break;
        }
    }

    private static void EmitImm(Assembler a, Sh op, AssemblerRegister8 r, byte cnt)
    {
        switch (op)
        {
            case Sh.Shl: a.shl(r, cnt); break;
            case Sh.Shr: a.shr(r, cnt); break;
            case Sh.Sar: a.sar(r, cnt); break;
            case Sh.Rol: a.rol(r, cnt); break;
            case Sh.Ror: a.ror(r, cnt); break;
            case Sh.Rcl: a.rcl(r, cnt); break;
            default: a.rcr(r, cnt); break;
        }
    }

    private static void EmitImm(Assembler a, Sh op, AssemblerRegister64 r, byte cnt)
    {
        switch (op)
        {
            case Sh.Shl: a.shl(r, cnt); break;
            case Sh.Shr: a.shr(r, cnt); break;
            case Sh.Sar: a.sar(r, cnt); break;
            case Sh.Rol: a.rol(r, cnt); break;
            case Sh.Ror: a.ror(r, cnt); break;
            case Sh.Rcl: a.rcl(r, cnt); break;
            default: a.rcr(r, cnt); break;
        }
    }

    private static void EmitMem(Assembler a, Sh op, AssemblerMemoryOperand m, AssemblerRegister8 cnt)
    {
        switch (op)
        {
            case Sh.Shl: a.shl(m, cnt); break;
            case Sh.Shr: a.shr(m, cnt); break;
            case Sh.Sar: a.sar(m, cnt); break;
            case Sh.Rol: a.rol(m, cnt); break;
            case Sh.Ror: a.ror(m, cnt); break;
            case Sh.Rcl: a.rcl(m, cnt); break;
            default: a.rcr(m, cnt); break;
        }
    }

    public static IEnumerable<DiffCase> Shift()
    {
        foreach (Sh op in Enum.GetValues<Sh>())
        {
            string n = op.ToString().ToLowerInvariant();
            yield return new DiffCase($"{n} bl,cl", a => Emit(a, op, bl, cl))
            { Generate = Operands.ShiftCount, Undefined = (g, _) => ShiftUndefined(op, 8, g[1] & 0xFF) };
            yield return new DiffCase($"{n} ah,cl", a => Emit(a, op, ah, cl))
            { Generate = Operands.ShiftCount, Undefined = (g, _) => ShiftUndefined(op, 8, g[1] & 0xFF) };
            yield return new DiffCase($"{n} dx,cl", a => Emit(a, op, dx, cl))
            { Generate = Operands.ShiftCount, Undefined = (g, _) => ShiftUndefined(op, 16, g[1] & 0xFF) };
            yield return new DiffCase($"{n} eax,cl", a => Emit(a, op, eax, cl))
            { Generate = Operands.ShiftCount, Undefined = (g, _) => ShiftUndefined(op, 32, g[1] & 0xFF) };
            yield return new DiffCase($"{n} r9,cl", a => Emit(a, op, r9, cl))
            { Generate = Operands.ShiftCount, Undefined = (g, _) => ShiftUndefined(op, 64, g[1] & 0xFF) };
            yield return new DiffCase($"{n} word [rsi+1],cl", a => EmitMem(a, op, __word_ptr[rsi + 1], cl))
            { Generate = Operands.ShiftCount, UsesMemory = true, Undefined = (g, _) => ShiftUndefined(op, 16, g[1] & 0xFF) };
            foreach (byte imm in new byte[] { 1, 3, 8, 9 })
            {
                yield return new DiffCase($"{n} bh,{imm}", a => EmitImm(a, op, bh, imm)) { UndefinedMask = ShiftUndefined(op, 8, imm) };
            }
            foreach (byte imm in new byte[] { 0, 1, 5, 31, 33 })
            {
                yield return new DiffCase($"{n} r10d,{imm}", a => EmitImm(a, op, r10d, imm)) { UndefinedMask = ShiftUndefined(op, 32, imm) };
            }
            foreach (byte imm in new byte[] { 1, 32, 63, 64 + 7 })
            {
                yield return new DiffCase($"{n} rbx,{imm}", a => EmitImm(a, op, rbx, imm)) { UndefinedMask = ShiftUndefined(op, 64, imm) };
            }
        }

        // SHLD/SHRD. A 16-bit count above 16 leaves the result undefined: not drawn.
        foreach (bool left in new[] { true, false })
        {
            string n = left ? "shld" : "shrd";
            ulong Undef(ulong raw, int bits)
            {
                ulong c = raw & (bits == 64 ? 63UL : 31UL);
                return c == 0 ? 0 : DiffCase.Af | (c == 1 ? 0 : DiffCase.Of);
            }
            DiffGenerator gen16 = (Random rng, ulong[] g, ref ulong f) => Operands.ShiftCount(rng, g, ref f) && (g[1] & 31) <= 16;
            yield return new DiffCase($"{n} ax,bx,cl", a => { if (left) { a.shld(ax, bx, cl); } else { a.shrd(ax, bx, cl); } })
            { Generate = gen16, Undefined = (g, _) => Undef(g[1], 16) };
            yield return new DiffCase($"{n} edx,esi,cl", a => { if (left) { a.shld(edx, esi, cl); } else { a.shrd(edx, esi, cl); } })
            { Generate = Operands.ShiftCount, Undefined = (g, _) => Undef(g[1], 32) };
            yield return new DiffCase($"{n} r8,r9,cl", a => { if (left) { a.shld(r8, r9, cl); } else { a.shrd(r8, r9, cl); } })
            { Generate = Operands.ShiftCount, Undefined = (g, _) => Undef(g[1], 64) };
            foreach (byte imm in new byte[] { 0, 1, 7, 16 })
            {
                yield return new DiffCase($"{n} di,ax,{imm}", a => { if (left) { a.shld(di, ax, imm); } else { a.shrd(di, ax, imm); } })
                { UndefinedMask = Undef(imm, 16) };
            }
            foreach (byte imm in new byte[] { 1, 13, 31 })
            {
                yield return new DiffCase($"{n} ebx,ecx,{imm}", a => { if (left) { a.shld(ebx, ecx, imm); } else { a.shrd(ebx, ecx, imm); } })
                { UndefinedMask = Undef(imm, 32) };
            }
            foreach (byte imm in new byte[] { 1, 40, 63 })
            {
                yield return new DiffCase($"{n} r11,rax,{imm}", a => { if (left) { a.shld(r11, rax, imm); } else { a.shrd(r11, rax, imm); } })
                { UndefinedMask = Undef(imm, 64) };
            }
            // Above 16 the SDM leaves result and flags undefined; Intel P6+ and AMD both shift the
            // 48-bit dest:src:src (SHRD: src:src:dest), which the emulator models: registers only.
            DiffGenerator genOver16 = (Random rng, ulong[] g, ref ulong f) =>
            {
                Operands.Default(rng, g, ref f);
                g[1] = (g[1] & ~0xFFUL) | (uint)rng.Next(17, 32);
                return true;
            };
            yield return new DiffCase($"{n} ax,bx,cl (count 17..31)", a => { if (left) { a.shld(ax, bx, cl); } else { a.shrd(ax, bx, cl); } })
            { Generate = genOver16, UndefinedMask = DiffCase.Arith };
            yield return new DiffCase($"{n} dword [rsi+2],edi,cl", a => { if (left) { a.shld(__dword_ptr[rsi + 2], edi, cl); } else { a.shrd(__dword_ptr[rsi + 2], edi, cl); } })
            { Generate = Operands.ShiftCount, UsesMemory = true, Undefined = (g, _) => Undef(g[1], 32) };
        }

        // BMI2 flagless shifts.
        yield return new DiffCase("shlx eax,ebx,ecx", a => a.shlx(eax, ebx, ecx)) { Isa = HostIsa.Bmi2 };
        yield return new DiffCase("shlx r8,r9,r10", a => a.shlx(r8, r9, r10)) { Isa = HostIsa.Bmi2 };
        yield return new DiffCase("shrx edx,esi,edi", a => a.shrx(edx, esi, edi)) { Isa = HostIsa.Bmi2 };
        yield return new DiffCase("shrx rax,rax,rcx", a => a.shrx(rax, rax, rcx)) { Isa = HostIsa.Bmi2 };
        yield return new DiffCase("sarx ebx,ecx,edx", a => a.sarx(ebx, ecx, edx)) { Isa = HostIsa.Bmi2 };
        yield return new DiffCase("sarx r11,r12,r13", a => a.sarx(r11, r12, r13)) { Isa = HostIsa.Bmi2 };
        yield return new DiffCase("sarx rdx,[rsi],rcx", a => a.sarx(rdx, __qword_ptr[rsi], rcx)) { Isa = HostIsa.Bmi2, UsesMemory = true };
        yield return new DiffCase("rorx eax,ebx,0", a => a.rorx(eax, ebx, 0)) { Isa = HostIsa.Bmi2 };
        yield return new DiffCase("rorx eax,ebx,7", a => a.rorx(eax, ebx, 7)) { Isa = HostIsa.Bmi2 };
        yield return new DiffCase("rorx eax,ebx,35", a => a.rorx(eax, ebx, 35)) { Isa = HostIsa.Bmi2 };
        yield return new DiffCase("rorx r9,r10,63", a => a.rorx(r9, r10, 63)) { Isa = HostIsa.Bmi2 };
        yield return new DiffCase("rorx r9,r10,200", a => a.rorx(r9, r10, 200)) { Isa = HostIsa.Bmi2 };
    }

    // ------------------------------------------------------------------ multiply and divide

    public static IEnumerable<DiffCase> MulDiv()
    {
        yield return new DiffCase("mul bl", a => a.mul(bl)) { UndefinedMask = MulUndefined };
        yield return new DiffCase("mul ah", a => a.mul(ah)) { UndefinedMask = MulUndefined };
        yield return new DiffCase("mul bx", a => a.mul(bx)) { UndefinedMask = MulUndefined };
        yield return new DiffCase("mul ebx", a => a.mul(ebx)) { UndefinedMask = MulUndefined };
        yield return new DiffCase("mul rbx", a => a.mul(rbx)) { UndefinedMask = MulUndefined };
        yield return new DiffCase("mul dword [rsi]", a => a.mul(__dword_ptr[rsi])) { UndefinedMask = MulUndefined, UsesMemory = true };
        yield return new DiffCase("imul cl", a => a.imul(cl)) { UndefinedMask = MulUndefined };
        yield return new DiffCase("imul cx", a => a.imul(cx)) { UndefinedMask = MulUndefined };
        yield return new DiffCase("imul ecx", a => a.imul(ecx)) { UndefinedMask = MulUndefined };
        yield return new DiffCase("imul rcx", a => a.imul(rcx)) { UndefinedMask = MulUndefined };
        yield return new DiffCase("imul qword [rsi+8]", a => a.imul(__qword_ptr[rsi + 8])) { UndefinedMask = MulUndefined, UsesMemory = true };
        yield return new DiffCase("imul bx,cx", a => a.imul(bx, cx)) { UndefinedMask = MulUndefined };
        yield return new DiffCase("imul ebx,ecx", a => a.imul(ebx, ecx)) { UndefinedMask = MulUndefined };
        yield return new DiffCase("imul rbx,rcx", a => a.imul(rbx, rcx)) { UndefinedMask = MulUndefined };
        yield return new DiffCase("imul r8,r8", a => a.imul(r8, r8)) { UndefinedMask = MulUndefined };
        yield return new DiffCase("imul edi,[rsi]", a => a.imul(edi, __dword_ptr[rsi])) { UndefinedMask = MulUndefined, UsesMemory = true };
        yield return new DiffCase("imul dx,ax,-3", a => a.imul(dx, ax, -3)) { UndefinedMask = MulUndefined };
        yield return new DiffCase("imul dx,ax,0x7fff", a => a.imul(dx, ax, 0x7FFF)) { UndefinedMask = MulUndefined };
        yield return new DiffCase("imul eax,ebx,-128", a => a.imul(eax, ebx, -128)) { UndefinedMask = MulUndefined };
        yield return new DiffCase("imul eax,ebx,0x12345", a => a.imul(eax, ebx, 0x12345)) { UndefinedMask = MulUndefined };
        yield return new DiffCase("imul r10,r11,0x7f", a => a.imul(r10, r11, 0x7F)) { UndefinedMask = MulUndefined };
        yield return new DiffCase("imul r10,r11,-0x80000000", a => a.imul(r10, r11, int.MinValue)) { UndefinedMask = MulUndefined };
        yield return new DiffCase("imul rax,rax,0", a => a.imul(rax, rax, 0)) { UndefinedMask = MulUndefined };

        foreach (int size in new[] { 1, 2, 4, 8 })
        {
            int sz = size;
            yield return new DiffCase($"div {RegB(sz)}", a => EmitDiv(a, sz, signed: false))
            { UndefinedMask = DiffCase.Arith, Generate = (Random rng, ulong[] g, ref ulong f) => DivInputs(rng, g, ref f, sz, signed: false) };
            yield return new DiffCase($"idiv {RegB(sz)}", a => EmitDiv(a, sz, signed: true))
            { UndefinedMask = DiffCase.Arith, Generate = (Random rng, ulong[] g, ref ulong f) => DivInputs(rng, g, ref f, sz, signed: true) };
        }
    }

    private static string RegB(int size) => size switch { 1 => "bl", 2 => "bx", 4 => "ebx", _ => "rbx" };

    private static void EmitDiv(Assembler a, int size, bool signed)
    {
        switch (size)
        {
            case 1: if (signed) { a.idiv(bl); } else { a.div(bl); } break;
            case 2: if (signed) { a.idiv(bx); } else { a.div(bx); } break;
            case 4: if (signed) { a.idiv(ebx); } else { a.div(ebx); } break;
            default: if (signed) { a.idiv(rbx); } else { a.div(rbx); } break;
        }
    }

    /// <summary>Dividend in [R|E]DX:[R|E]AX (AX for bytes), divisor in RBX; only inputs that cannot #DE on the host.</summary>
    private static bool DivInputs(Random rng, ulong[] g, ref ulong f, int size, bool signed)
    {
        Operands.Default(rng, g, ref f);
        int bits = size * 8;
        ulong mask = size == 8 ? ulong.MaxValue : (1UL << bits) - 1;
        ulong divisor = g[3] & mask;
        if (divisor == 0)
        {
            return false;
        }
        ulong lo = size == 1 ? g[0] & 0xFF : g[0] & mask;
        ulong hi = size == 1 ? (g[0] >> 8) & 0xFF : g[2] & mask;
        if (!signed)
        {
            // Upper half below the divisor: the quotient fits.
            hi %= divisor;
        }
        else if (rng.Next(2) == 0)
        {
            // Half the draws: a dividend that is the sign extension of the lower half.
            hi = (lo >> (bits - 1)) != 0 ? mask : 0;
        }
        if (size == 1)
        {
            g[0] = (g[0] & ~0xFFFFUL) | (hi << 8) | lo;
        }
        else
        {
            g[2] = (g[2] & ~mask) | hi;
        }
        if (!signed)
        {
            return true;
        }
        Int128 dividend = size == 8
            ? (Int128)new UInt128(hi, lo)
            : (Int128)(long)(((hi << bits) | lo) << (64 - 2 * bits)) >> (64 - 2 * bits);
        Int128 d = (long)(divisor << (64 - bits)) >> (64 - bits);
        if (dividend == Int128.MinValue && d == -1)
        {
            return false;
        }
        Int128 q = dividend / d;
        Int128 max = (Int128.One << (bits - 1)) - 1;
        return q >= -max - 1 && q <= max;
    }

    // ------------------------------------------------------------------ bits

    public static IEnumerable<DiffCase> Bit()
    {
        foreach (string op in new[] { "bt", "bts", "btr", "btc" })
        {
            string o = op;
            yield return new DiffCase($"{o} ax,bx", a => EmitBt(a, o, ax, bx)) { UndefinedMask = BitTestUndefined };
            yield return new DiffCase($"{o} eax,ebx", a => EmitBt(a, o, eax, ebx)) { UndefinedMask = BitTestUndefined };
            yield return new DiffCase($"{o} r9,r10", a => EmitBt(a, o, r9, r10)) { UndefinedMask = BitTestUndefined };
            foreach (byte imm in new byte[] { 0, 15, 31, 45, 200 })
            {
                yield return new DiffCase($"{o} cx,{imm}", a => EmitBtImm(a, o, cx, imm)) { UndefinedMask = BitTestUndefined };
                yield return new DiffCase($"{o} ecx,{imm}", a => EmitBtImm(a, o, ecx, imm)) { UndefinedMask = BitTestUndefined };
                yield return new DiffCase($"{o} rcx,{imm}", a => EmitBtImm(a, o, rcx, imm)) { UndefinedMask = BitTestUndefined };
            }
            // Bit-string addressing: a register offset reaches outside the addressed operand.
            yield return new DiffCase($"{o} word [rsi],ax", a => EmitBtMem(a, o, __word_ptr[rsi], ax))
            { UndefinedMask = BitTestUndefined, UsesMemory = true };
            yield return new DiffCase($"{o} dword [rsi+3],ebx", a => EmitBtMem(a, o, __dword_ptr[rsi + 3], ebx))
            { UndefinedMask = BitTestUndefined, UsesMemory = true, Generate = BitOffsetInputs };
            yield return new DiffCase($"{o} qword [rsi-5],rbx", a => EmitBtMem(a, o, __qword_ptr[rsi - 5], rbx))
            { UndefinedMask = BitTestUndefined, UsesMemory = true, Generate = BitOffsetInputs };
            yield return new DiffCase($"{o} dword [rsi],imm 45", a => EmitBtMemImm(a, o, __dword_ptr[rsi], 45))
            { UndefinedMask = BitTestUndefined, UsesMemory = true };
            if (o != "bt")
            {
                yield return new DiffCase($"lock {o} qword [rsi],rbx", a => EmitBtMem(a.@lock, o, __qword_ptr[rsi], rbx))
                { UndefinedMask = BitTestUndefined, UsesMemory = true, Generate = BitOffsetInputs };
            }
        }

        yield return new DiffCase("bsf ax,bx", a => a.bsf(ax, bx)) { UndefinedMask = ScanUndefined };
        yield return new DiffCase("bsf eax,ebx", a => a.bsf(eax, ebx)) { UndefinedMask = ScanUndefined };
        yield return new DiffCase("bsf rax,rbx", a => a.bsf(rax, rbx)) { UndefinedMask = ScanUndefined };
        yield return new DiffCase("bsr cx,dx", a => a.bsr(cx, dx)) { UndefinedMask = ScanUndefined };
        yield return new DiffCase("bsr ecx,edx", a => a.bsr(ecx, edx)) { UndefinedMask = ScanUndefined };
        yield return new DiffCase("bsr rcx,rdx", a => a.bsr(rcx, rdx)) { UndefinedMask = ScanUndefined };
        yield return new DiffCase("bsf r8d,[rsi]", a => a.bsf(r8d, __dword_ptr[rsi])) { UndefinedMask = ScanUndefined, UsesMemory = true };

        yield return new DiffCase("popcnt ax,bx", a => a.popcnt(ax, bx)) { Isa = HostIsa.Popcnt };
        yield return new DiffCase("popcnt eax,ebx", a => a.popcnt(eax, ebx)) { Isa = HostIsa.Popcnt };
        yield return new DiffCase("popcnt rax,rbx", a => a.popcnt(rax, rbx)) { Isa = HostIsa.Popcnt };
        yield return new DiffCase("lzcnt ax,bx", a => a.lzcnt(ax, bx)) { Isa = HostIsa.Lzcnt, UndefinedMask = CountUndefined };
        yield return new DiffCase("lzcnt eax,ebx", a => a.lzcnt(eax, ebx)) { Isa = HostIsa.Lzcnt, UndefinedMask = CountUndefined };
        yield return new DiffCase("lzcnt rax,rbx", a => a.lzcnt(rax, rbx)) { Isa = HostIsa.Lzcnt, UndefinedMask = CountUndefined };
        yield return new DiffCase("tzcnt cx,dx", a => a.tzcnt(cx, dx)) { Isa = HostIsa.Bmi1, UndefinedMask = CountUndefined };
        yield return new DiffCase("tzcnt ecx,edx", a => a.tzcnt(ecx, edx)) { Isa = HostIsa.Bmi1, UndefinedMask = CountUndefined };
        yield return new DiffCase("tzcnt rcx,rdx", a => a.tzcnt(rcx, rdx)) { Isa = HostIsa.Bmi1, UndefinedMask = CountUndefined };
        yield return new DiffCase("tzcnt r9,[rsi]", a => a.tzcnt(r9, __qword_ptr[rsi])) { Isa = HostIsa.Bmi1, UndefinedMask = CountUndefined, UsesMemory = true };

        // BSWAP r16 is undefined in the SDM; Intel and AMD parts both clear the word.
        yield return new DiffCase("bswap ax", a => a.bswap(ax));
        yield return new DiffCase("bswap eax", a => a.bswap(eax));
        yield return new DiffCase("bswap r10", a => a.bswap(r10));
        yield return new DiffCase("movbe ax,[rsi+1]", a => a.movbe(ax, __word_ptr[rsi + 1])) { Isa = HostIsa.Movbe, UsesMemory = true };
        yield return new DiffCase("movbe ebx,[rsi]", a => a.movbe(ebx, __dword_ptr[rsi])) { Isa = HostIsa.Movbe, UsesMemory = true };
        yield return new DiffCase("movbe rcx,[rsi-8]", a => a.movbe(rcx, __qword_ptr[rsi - 8])) { Isa = HostIsa.Movbe, UsesMemory = true };
        yield return new DiffCase("movbe [rsi],dx", a => a.movbe(__word_ptr[rsi], dx)) { Isa = HostIsa.Movbe, UsesMemory = true };
        yield return new DiffCase("movbe [rsi+5],edi", a => a.movbe(__dword_ptr[rsi + 5], edi)) { Isa = HostIsa.Movbe, UsesMemory = true };
        yield return new DiffCase("movbe [rsi],r8", a => a.movbe(__qword_ptr[rsi], r8)) { Isa = HostIsa.Movbe, UsesMemory = true };
    }

    /// <summary>Bit offsets in RBX that keep a bit-string access within ±4 KiB of RSI.</summary>
    private static bool BitOffsetInputs(Random rng, ulong[] g, ref ulong f)
    {
        Operands.Default(rng, g, ref f);
        long offset = rng.Next(3) == 0 ? rng.Next(-200, 200) : rng.Next(-0x7C00, 0x7C00);
        g[3] = (ulong)offset;
        return true;
    }

    private static void EmitBt(Assembler a, string op, AssemblerRegister16 x, AssemblerRegister16 y)
    {
        switch (op)
        {
            case "bt": a.bt(x, y); break;
            case "bts": a.bts(x, y); break;
            case "btr": a.btr(x, y); break;
            default: a.btc(x, y); break;
        }
    }

    private static void EmitBt(Assembler a, string op, AssemblerRegister32 x, AssemblerRegister32 y)
    {
        switch (op)
        {
            case "bt": a.bt(x, y); break;
            case "bts": a.bts(x, y); break;
            case "btr": a.btr(x, y); break;
            default: a.btc(x, y); break;
        }
    }

    private static void EmitBt(Assembler a, string op, AssemblerRegister64 x, AssemblerRegister64 y)
    {
        switch (op)
        {
            case "bt": a.bt(x, y); break;
            case "bts": a.bts(x, y); break;
            case "btr": a.btr(x, y); break;
            default: a.btc(x, y); break;
        }
    }

    private static void EmitBtImm(Assembler a, string op, AssemblerRegister16 x, byte imm)
    {
        switch (op)
        {
            case "bt": a.bt(x, imm); break;
            case "bts": a.bts(x, imm); break;
            case "btr": a.btr(x, imm); break;
            default: a.btc(x, imm); break;
        }
    }

    private static void EmitBtImm(Assembler a, string op, AssemblerRegister32 x, byte imm)
    {
        switch (op)
        {
            case "bt": a.bt(x, imm); break;
            case "bts": a.bts(x, imm); break;
            case "btr": a.btr(x, imm); break;
            default: a.btc(x, imm); break;
        }
    }

    private static void EmitBtImm(Assembler a, string op, AssemblerRegister64 x, byte imm)
    {
        switch (op)
        {
            case "bt": a.bt(x, imm); break;
            case "bts": a.bts(x, imm); break;
            case "btr": a.btr(x, imm); break;
            default: a.btc(x, imm); break;
        }
    }

    private static void EmitBtMem(Assembler a, string op, AssemblerMemoryOperand m, AssemblerRegister16 r)
    {
        switch (op)
        {
            case "bt": a.bt(m, r); break;
            case "bts": a.bts(m, r); break;
            case "btr": a.btr(m, r); break;
            default: a.btc(m, r); break;
        }
    }

    private static void EmitBtMem(Assembler a, string op, AssemblerMemoryOperand m, AssemblerRegister32 r)
    {
        switch (op)
        {
            case "bt": a.bt(m, r); break;
            case "bts": a.bts(m, r); break;
            case "btr": a.btr(m, r); break;
            default: a.btc(m, r); break;
        }
    }

    private static void EmitBtMem(Assembler a, string op, AssemblerMemoryOperand m, AssemblerRegister64 r)
    {
        switch (op)
        {
            case "bt": a.bt(m, r); break;
            case "bts": a.bts(m, r); break;
            case "btr": a.btr(m, r); break;
            default: a.btc(m, r); break;
        }
    }

    private static void EmitBtMemImm(Assembler a, string op, AssemblerMemoryOperand m, byte imm)
    {
        switch (op)
        {
            case "bt": a.bt(m, imm); break;
            case "bts": a.bts(m, imm); break;
            case "btr": a.btr(m, imm); break;
            default: a.btc(m, imm); break;
        }
    }

    // ------------------------------------------------------------------ BMI1, BMI2, ADX, CRC32

    public static IEnumerable<DiffCase> Bmi()
    {
        const ulong bmiUndef = DiffCase.Af | DiffCase.Pf;
        yield return new DiffCase("andn eax,ebx,ecx", a => a.andn(eax, ebx, ecx)) { Isa = HostIsa.Bmi1, UndefinedMask = bmiUndef };
        yield return new DiffCase("andn r8,r9,r10", a => a.andn(r8, r9, r10)) { Isa = HostIsa.Bmi1, UndefinedMask = bmiUndef };
        yield return new DiffCase("andn rdx,rcx,[rsi]", a => a.andn(rdx, rcx, __qword_ptr[rsi])) { Isa = HostIsa.Bmi1, UndefinedMask = bmiUndef, UsesMemory = true };
        yield return new DiffCase("bextr eax,ebx,ecx", a => a.bextr(eax, ebx, ecx))
        { Isa = HostIsa.Bmi1, UndefinedMask = bmiUndef | DiffCase.Sf, Generate = FieldControlInputs };
        yield return new DiffCase("bextr r8,r9,rcx", a => a.bextr(r8, r9, rcx))
        { Isa = HostIsa.Bmi1, UndefinedMask = bmiUndef | DiffCase.Sf, Generate = FieldControlInputs };
        yield return new DiffCase("blsi eax,ebx", a => a.blsi(eax, ebx)) { Isa = HostIsa.Bmi1, UndefinedMask = bmiUndef };
        yield return new DiffCase("blsi r11,r12", a => a.blsi(r11, r12)) { Isa = HostIsa.Bmi1, UndefinedMask = bmiUndef };
        yield return new DiffCase("blsmsk ecx,edx", a => a.blsmsk(ecx, edx)) { Isa = HostIsa.Bmi1, UndefinedMask = bmiUndef };
        yield return new DiffCase("blsmsk rcx,rdx", a => a.blsmsk(rcx, rdx)) { Isa = HostIsa.Bmi1, UndefinedMask = bmiUndef };
        yield return new DiffCase("blsr edi,esi", a => a.blsr(edi, esi)) { Isa = HostIsa.Bmi1, UndefinedMask = bmiUndef };
        yield return new DiffCase("blsr rdi,rbx", a => a.blsr(rdi, rbx)) { Isa = HostIsa.Bmi1, UndefinedMask = bmiUndef };
        yield return new DiffCase("bzhi eax,ebx,ecx", a => a.bzhi(eax, ebx, ecx))
        { Isa = HostIsa.Bmi2, UndefinedMask = bmiUndef, Generate = FieldControlInputs };
        yield return new DiffCase("bzhi r8,r9,rcx", a => a.bzhi(r8, r9, rcx))
        { Isa = HostIsa.Bmi2, UndefinedMask = bmiUndef, Generate = FieldControlInputs };
        yield return new DiffCase("pdep eax,ebx,ecx", a => a.pdep(eax, ebx, ecx)) { Isa = HostIsa.Bmi2 };
        yield return new DiffCase("pdep r8,r9,r10", a => a.pdep(r8, r9, r10)) { Isa = HostIsa.Bmi2 };
        yield return new DiffCase("pext eax,ebx,ecx", a => a.pext(eax, ebx, ecx)) { Isa = HostIsa.Bmi2 };
        yield return new DiffCase("pext r8,r9,[rsi]", a => a.pext(r8, r9, __qword_ptr[rsi])) { Isa = HostIsa.Bmi2, UsesMemory = true };
        yield return new DiffCase("mulx eax,ebx,ecx", a => a.mulx(eax, ebx, ecx)) { Isa = HostIsa.Bmi2 };
        yield return new DiffCase("mulx r8,r9,r10", a => a.mulx(r8, r9, r10)) { Isa = HostIsa.Bmi2 };
        yield return new DiffCase("mulx rax,rax,rcx", a => a.mulx(rax, rax, rcx)) { Isa = HostIsa.Bmi2 };
        yield return new DiffCase("adcx eax,ebx", a => a.adcx(eax, ebx)) { Isa = HostIsa.Adx };
        yield return new DiffCase("adcx r8,r9", a => a.adcx(r8, r9)) { Isa = HostIsa.Adx };
        yield return new DiffCase("adox ecx,edx", a => a.adox(ecx, edx)) { Isa = HostIsa.Adx };
        yield return new DiffCase("adox r10,[rsi]", a => a.adox(r10, __qword_ptr[rsi])) { Isa = HostIsa.Adx, UsesMemory = true };
        yield return new DiffCase("adcx/adox chain", a =>
        {
            a.adcx(rax, rbx);
            a.adox(rcx, rdx);
            a.adcx(r8, r9);
            a.adox(r10, r11);
        }) { Isa = HostIsa.Adx };
        yield return new DiffCase("crc32 eax,bl", a => a.crc32(eax, bl)) { Isa = HostIsa.Sse42 };
        yield return new DiffCase("crc32 eax,bx", a => a.crc32(eax, bx)) { Isa = HostIsa.Sse42 };
        yield return new DiffCase("crc32 eax,ebx", a => a.crc32(eax, ebx)) { Isa = HostIsa.Sse42 };
        yield return new DiffCase("crc32 rax,bl", a => a.crc32(rax, bl)) { Isa = HostIsa.Sse42 };
        yield return new DiffCase("crc32 rax,rbx", a => a.crc32(rax, rbx)) { Isa = HostIsa.Sse42 };
        yield return new DiffCase("crc32 ecx,dword [rsi]", a => a.crc32(ecx, __dword_ptr[rsi])) { Isa = HostIsa.Sse42, UsesMemory = true };
    }

    /// <summary>BEXTR/BZHI control in RCX: start and length (or index) mostly in 0..70.</summary>
    private static bool FieldControlInputs(Random rng, ulong[] g, ref ulong f)
    {
        Operands.Default(rng, g, ref f);
        if (rng.Next(4) != 0)
        {
            g[1] = (g[1] & ~0xFFFFUL) | (uint)rng.Next(70) | ((uint)rng.Next(70) << 8);
        }
        return true;
    }
}
