using System.Runtime.InteropServices;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Cpu.Differential;

/// <summary>
/// Register file exchanged with a native snippet: the sixteen GPRs in encoding order (RSP unused)
/// and RFLAGS. Blittable; <see cref="NativeRunner"/> keeps one in unmanaged memory.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativeState
{
    public const int RflagsOffset = 16 * 8;

    public fixed ulong Gpr[16];
    public ulong Rflags;
}

/// <summary>
/// Runs 64-bit user-mode snippets on the host CPU. A thunk in an RWX page (mmap) loads RAX..R15
/// (not RSP) and RFLAGS from a <see cref="NativeState"/>, executes the snippet bytes, stores the
/// registers and RFLAGS back and returns; it is called through an unmanaged function pointer.
/// The snippet must not touch RSP, branch out, or fault (a host fault kills the test process).
/// </summary>
internal sealed unsafe class NativeRunner : IDisposable
{
    private const int ProtRead = 1;
    private const int ProtWrite = 2;
    private const int ProtExec = 4;
    private const int MapPrivate = 0x02;
    private const int MapAnonymous = 0x20;
    private const nuint CodeSize = 0x1000;

    /// <summary>Size of the data buffer snippets may address through RSI (see <see cref="DataCenter"/>).</summary>
    public const int DataSize = 0x2000;

    /// <summary>Offset of the address RSI is given inside the data buffer.</summary>
    public const int DataCenter = 0x1000;

    private readonly byte* _code;
    private readonly NativeState* _state;

    [DllImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static extern nint Mmap(nint addr, nuint length, int prot, int flags, int fd, nint offset);

    [DllImport("libc", EntryPoint = "munmap")]
    private static extern int Munmap(nint addr, nuint length);

    public NativeRunner()
    {
        nint p = Mmap(0, CodeSize, ProtRead | ProtWrite | ProtExec, MapPrivate | MapAnonymous, -1, 0);
        if (p == -1 || p == 0)
        {
            throw new InvalidOperationException($"mmap failed: errno {Marshal.GetLastPInvokeError()}");
        }
        _code = (byte*)p;
        _state = (NativeState*)NativeMemory.AlignedAlloc((nuint)sizeof(NativeState), 64);
        *_state = default;
        Data = (byte*)NativeMemory.AlignedAlloc(DataSize, 4096);
        new Span<byte>(Data, DataSize).Clear();
    }

    /// <summary>Host buffer that RSI points into (at <see cref="DataCenter"/>) for memory-form snippets.</summary>
    public byte* Data { get; }

    public ref NativeState State => ref *_state;

    /// <summary>True on x86-64 Linux, where the thunk's calling convention (SysV) and mmap apply.</summary>
    public static bool IsSupportedHost =>
        RuntimeInformation.ProcessArchitecture == Architecture.X64 && OperatingSystem.IsLinux();

    /// <summary>Builds the thunk around <paramref name="snippet"/> (raw 64-bit code bytes).</summary>
    public void Load(ReadOnlySpan<byte> snippet)
    {
        var a = new Assembler(64);
        // SysV: state pointer in RDI; RBX, RBP, R12–R15 are callee-saved.
        a.push(rbx);
        a.push(rbp);
        a.push(r12);
        a.push(r13);
        a.push(r14);
        a.push(r15);
        a.push(rdi);
        a.push(__qword_ptr[rdi + NativeState.RflagsOffset]);
        a.popfq();
        AssemblerRegister64[] regs = [rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11, r12, r13, r14, r15];
        for (int r = 0; r < 16; r++)
        {
            if (r != 4 && r != 7)
            {
                a.mov(regs[r], __qword_ptr[rdi + r * 8]);
            }
        }
        a.mov(rdi, __qword_ptr[rdi + 7 * 8]);
        a.db(snippet.ToArray());
        // Nothing below may change the arithmetic flags before PUSHFQ (MOV/PUSH/POP do not).
        a.push(rdi);
        a.mov(rdi, __qword_ptr[rsp + 8]);
        for (int r = 0; r < 16; r++)
        {
            if (r != 4 && r != 7)
            {
                a.mov(__qword_ptr[rdi + r * 8], regs[r]);
            }
        }
        a.pop(rax);
        a.mov(__qword_ptr[rdi + 7 * 8], rax);
        a.pushfq();
        a.pop(rax);
        a.mov(__qword_ptr[rdi + NativeState.RflagsOffset], rax);
        a.pop(rdi);
        a.pop(r15);
        a.pop(r14);
        a.pop(r13);
        a.pop(r12);
        a.pop(rbp);
        a.pop(rbx);
        a.ret();

        byte[] thunk = a.ToBytes((ulong)_code);
        if (thunk.Length > (int)CodeSize)
        {
            throw new InvalidOperationException("thunk too large");
        }
        thunk.CopyTo(new Span<byte>(_code, (int)CodeSize));
    }

    /// <summary>
    /// Runs the loaded thunk on <see cref="State"/>. Only the six arithmetic flags are taken from
    /// the state (plus IF and bit 1): TF, DF or AC set by mistake would trap or break the host.
    /// </summary>
    public void Run()
    {
        _state->Rflags = (_state->Rflags & DiffCase.Arith) | 0x202;
        var fn = (delegate* unmanaged<NativeState*, void>)_code;
        fn(_state);
    }

    public void Dispose()
    {
        Munmap((nint)_code, CodeSize);
        NativeMemory.AlignedFree(_state);
        NativeMemory.AlignedFree(Data);
    }
}
