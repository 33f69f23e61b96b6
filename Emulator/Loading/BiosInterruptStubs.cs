using Emulator.Cpu.Memory;

namespace Emulator.Loading;

/// <summary>
/// The hardware-interrupt handlers a PC BIOS leaves in the real-mode IVT (as SeaBIOS does after POST),
/// as hand-assembled 16-bit code in the BIOS area at F000:E000: INT 08h (IRQ 0) keeps the BIOS data
/// area's tick count and chains to INT 1Ch; every other IRQ handler (INT 09h–0Fh, 70h–77h) sends the
/// EOIs its interrupt needs, without disturbing an interrupt that was not in service.
/// </summary>
/// <remarks>
/// <para>INT 08h: increments the dword at 0040:006C; at 0x1800B0 ticks (24 hours of 18.2 Hz ticks)
/// it wraps to 0 and increments the midnight flag at 0040:0070 (SeaBIOS handle_08; IBM PC AT Technical
/// Reference "TIMER_INT"), calls INT 1Ch (the user timer hook), then sends a non-specific EOI to the
/// master 8259.</para>
/// <para>IRQ 7 and IRQ 15 read the ISR first: a spurious IR7 (8259A datasheet "Interrupt Sequence") is
/// not in service and must not be EOIed; a spurious IRQ 15 still needs the master's EOI for the cascade.
/// IRQ 8 (INT 70h) reads RTC register C so the RTC can interrupt again. Slave handlers EOI the slave
/// then the master.</para>
/// <para>Install after <see cref="Firmware.Install"/>, which points every vector at the default IRET.</para>
/// </remarks>
internal static class BiosInterruptStubs
{
    public const ushort Segment = 0xF000;
    public const ulong Base = 0xFE000;

    public const ushort Int08Offset = 0xE000;
    public const ushort MasterEoiOffset = 0xE040;
    public const ushort Irq7Offset = 0xE050;
    public const ushort Int70Offset = 0xE070;
    public const ushort SlaveEoiOffset = 0xE090;
    public const ushort Irq15Offset = 0xE0A0;

    /// <summary>BIOS data area tick count (dword) and midnight flag (byte).</summary>
    public const ulong TickCountAddress = 0x46C;
    public const ulong MidnightFlagAddress = 0x470;
    public const uint TicksPerDay = 0x1800B0;

    private static ReadOnlySpan<byte> Int08 =>
    [
        0x1E,                               // push ds
        0x66, 0x50,                         // push eax
        0xB8, 0x40, 0x00,                   // mov ax, 0040h
        0x8E, 0xD8,                         // mov ds, ax
        0x66, 0xA1, 0x6C, 0x00,             // mov eax, [006Ch]
        0x66, 0x40,                         // inc eax
        0x66, 0x3D, 0xB0, 0x00, 0x18, 0x00, // cmp eax, 001800B0h
        0x72, 0x07,                         // jb .store
        0x66, 0x31, 0xC0,                   // xor eax, eax
        0xFE, 0x06, 0x70, 0x00,             // inc byte [0070h]
        0x66, 0xA3, 0x6C, 0x00,             // .store: mov [006Ch], eax
        0xCD, 0x1C,                         // int 1Ch
        0xB0, 0x20,                         // mov al, 20h (non-specific EOI)
        0xE6, 0x20,                         // out 20h, al
        0x66, 0x58,                         // pop eax
        0x1F,                               // pop ds
        0xCF,                               // iret
    ];

    private static ReadOnlySpan<byte> MasterEoi =>
    [
        0x50,                               // push ax
        0xB0, 0x20,                         // mov al, 20h
        0xE6, 0x20,                         // out 20h, al
        0x58,                               // pop ax
        0xCF,                               // iret
    ];

    private static ReadOnlySpan<byte> Irq7 =>
    [
        0x50,                               // push ax
        0xB0, 0x0B,                         // mov al, 0Bh (OCW3: read ISR)
        0xE6, 0x20,                         // out 20h, al
        0xE4, 0x20,                         // in al, 20h
        0xA8, 0x80,                         // test al, 80h
        0xB0, 0x0A,                         // mov al, 0Ah (OCW3: back to IRR)
        0xE6, 0x20,                         // out 20h, al
        0xB0, 0x20,                         // mov al, 20h
        0x74, 0x02,                         // jz .done (spurious: nothing in service)
        0xE6, 0x20,                         // out 20h, al
        0x58,                               // .done: pop ax
        0xCF,                               // iret
    ];

    private static ReadOnlySpan<byte> Int70 =>
    [
        0x50,                               // push ax
        0xB0, 0x0C,                         // mov al, 0Ch (RTC register C, NMI enabled)
        0xE6, 0x70,                         // out 70h, al
        0xE4, 0x71,                         // in al, 71h
        0xB0, 0x20,                         // mov al, 20h
        0xE6, 0xA0,                         // out 0A0h, al
        0xE6, 0x20,                         // out 20h, al
        0x58,                               // pop ax
        0xCF,                               // iret
    ];

    private static ReadOnlySpan<byte> SlaveEoi =>
    [
        0x50,                               // push ax
        0xB0, 0x20,                         // mov al, 20h
        0xE6, 0xA0,                         // out 0A0h, al
        0xE6, 0x20,                         // out 20h, al
        0x58,                               // pop ax
        0xCF,                               // iret
    ];

    private static ReadOnlySpan<byte> Irq15 =>
    [
        0x50,                               // push ax
        0xB0, 0x0B,                         // mov al, 0Bh (OCW3: read ISR)
        0xE6, 0xA0,                         // out 0A0h, al
        0xE4, 0xA0,                         // in al, 0A0h
        0xA8, 0x80,                         // test al, 80h
        0xB0, 0x0A,                         // mov al, 0Ah (OCW3: back to IRR)
        0xE6, 0xA0,                         // out 0A0h, al
        0xB0, 0x20,                         // mov al, 20h
        0x74, 0x02,                         // jz .master (spurious on the slave: only the cascade is in service)
        0xE6, 0xA0,                         // out 0A0h, al
        0xE6, 0x20,                         // .master: out 20h, al
        0x58,                               // pop ax
        0xCF,                               // iret
    ];

    /// <summary>Writes the handlers and points IVT vectors 08h–0Fh and 70h–77h at them.</summary>
    public static void Install(PhysicalMemory memory)
    {
        Write(memory, Int08Offset, Int08);
        Write(memory, MasterEoiOffset, MasterEoi);
        Write(memory, Irq7Offset, Irq7);
        Write(memory, Int70Offset, Int70);
        Write(memory, SlaveEoiOffset, SlaveEoi);
        Write(memory, Irq15Offset, Irq15);
        SetVector(memory, 0x08, Int08Offset);
        for (int v = 0x09; v <= 0x0E; v++)
        {
            SetVector(memory, v, MasterEoiOffset);
        }
        SetVector(memory, 0x0F, Irq7Offset);
        SetVector(memory, 0x70, Int70Offset);
        for (int v = 0x71; v <= 0x76; v++)
        {
            SetVector(memory, v, SlaveEoiOffset);
        }
        SetVector(memory, 0x77, Irq15Offset);
    }

    /// <summary>Physical address of a handler at F000:<paramref name="offset"/>.</summary>
    public static ulong Address(ushort offset) => ((ulong)Segment << 4) + offset;

    private static void Write(PhysicalMemory memory, ushort offset, ReadOnlySpan<byte> code) =>
        memory.TryWriteBytes(Address(offset), code);

    private static void SetVector(PhysicalMemory memory, int vector, ushort offset) =>
        memory.Write((ulong)vector * 4, 4, ((uint)Segment << 16) | offset);
}
