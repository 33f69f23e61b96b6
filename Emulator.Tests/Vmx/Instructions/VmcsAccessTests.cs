using Emulator.Cpu;
using Emulator.Cpu.State;
using Emulator.Tests.Cpu;
using Emulator.Vmx.Vmcs;
using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace Emulator.Tests.Vmx.Instructions;

/// <summary>SDM Vol. 3C "VMREAD—Read Field from Virtual-Machine Control Structure" and "VMWRITE—Write Field to ...".</summary>
[TestFixture]
internal sealed class VmcsAccessTests
{
    private static IEnumerable<VmcsField> AllFields()
    {
        foreach (VmcsFieldInfo row in VmcsFieldTable.Fields.ToArray())
        {
            yield return row.Field;
        }
    }

    private static ulong Vmwrite(VmxTestBed bed, ulong encoding, ulong value)
    {
        bed.H[Register.RBX] = encoding;
        bed.H[Register.RCX] = value;
        return bed.Exec(a => a.vmwrite(rbx, rcx));
    }

    private static ulong Vmread(VmxTestBed bed, ulong encoding, out ulong value)
    {
        bed.H[Register.RBX] = encoding;
        bed.H[Register.RCX] = 0xDEAD_DEAD_DEAD_DEAD;
        ulong flags = bed.Exec(a => a.vmread(rcx, rbx));
        value = bed.H[Register.RCX];
        return flags;
    }

    [TestCaseSource(nameof(AllFields))]
    public void VmwriteVmread_EveryField_RoundTripsAtItsWidth(VmcsField field)
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.Vmptrld(VmxTestBed.Vmcs1);
        var encoding = new VmcsFieldEncoding(field);
        const ulong pattern = 0x8877_6655_4433_2211;
        ulong mask = encoding.Width switch
        {
            VmcsFieldWidth.U16 => 0xFFFF,
            VmcsFieldWidth.U32 => 0xFFFF_FFFF,
            _ => ulong.MaxValue,
        };
        Assert.That(Vmwrite(bed, (ulong)field, pattern), Is.Zero, "VMWRITE");
        Assert.That(Vmread(bed, (ulong)field, out ulong value), Is.Zero, "VMREAD");
        Assert.That(value, Is.EqualTo(pattern & mask));

        if (encoding.Width == VmcsFieldWidth.U64)
        {
            // The HIGH encoding is bits 63:32 of the same field.
            ulong high = encoding.High.Value;
            Assert.That(Vmread(bed, high, out ulong upper), Is.Zero, "VMREAD HIGH");
            Assert.That(upper, Is.EqualTo(pattern >> 32));
            Assert.That(Vmwrite(bed, high, 0xFFFF_FFFF_0BAD_F00D), Is.Zero, "VMWRITE HIGH");
            Assert.That(Vmread(bed, (ulong)field, out ulong full), Is.Zero);
            Assert.That(full, Is.EqualTo(0x0BAD_F00D_4433_2211UL), "HIGH writes only the upper half");
        }
    }

    [Test]
    public void VmreadVmwrite_NoCurrentVmcs_VmFailInvalid()
    {
        using var bed = new VmxTestBed(vmxon: true);
        Assert.That(Vmwrite(bed, (ulong)VmcsField.GuestRip, 1), Is.EqualTo(CpuState.FlagCf));
        Assert.That(Vmread(bed, (ulong)VmcsField.GuestRip, out ulong value), Is.EqualTo(CpuState.FlagCf));
        Assert.That(value, Is.EqualTo(0xDEAD_DEAD_DEAD_DEADUL), "destination untouched");
    }

    [TestCase(0x0001UL, TestName = "VmreadVmwrite_HighOf16BitField_VmFailValid12")]
    [TestCase(0x6C3EUL, TestName = "VmreadVmwrite_UnknownIndex_VmFailValid12")]
    [TestCase(0x1_0000_681EUL, TestName = "VmreadVmwrite_EncodingBits63To32Set_VmFailValid12")]
    [TestCase(0x8000_681EUL, TestName = "VmreadVmwrite_EncodingBit31Set_VmFailValid12")]
    public void VmreadVmwrite_UnsupportedComponent_VmFailValid12(ulong encoding)
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.Vmptrld(VmxTestBed.Vmcs1);
        Assert.That(Vmread(bed, encoding, out ulong value), Is.EqualTo(CpuState.FlagZf));
        Assert.That(bed.Error, Is.EqualTo(12UL));
        Assert.That(value, Is.EqualTo(0xDEAD_DEAD_DEAD_DEADUL));
        Vmcs12Layout.Write(bed.Vmx.CachedVmcs12, VmcsField.VmInstructionError, 0);
        Assert.That(Vmwrite(bed, encoding, 1), Is.EqualTo(CpuState.FlagZf));
        Assert.That(bed.Error, Is.EqualTo(12UL));
    }

    [Test]
    public void Vmwrite_ReadOnlyFieldWithoutMiscBit29_VmFailValid13()
    {
        using var bed = new VmxTestBed(vmxon: true, vmwriteAnyField: false);
        bed.Vmptrld(VmxTestBed.Vmcs1);
        Assert.That(Vmwrite(bed, (ulong)VmcsField.ExitQualification, 5), Is.EqualTo(CpuState.FlagZf));
        Assert.That(bed.Error, Is.EqualTo(13UL));
        Assert.That(Vmcs12Layout.Read(bed.Vmx.CachedVmcs12, VmcsField.ExitQualification), Is.Zero);
    }

    [Test]
    public void Vmwrite_ReadOnlyFieldWithMiscBit29_Succeeds()
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.Vmptrld(VmxTestBed.Vmcs1);
        Assert.That(Vmwrite(bed, (ulong)VmcsField.ExitQualification, 5), Is.Zero);
        Assert.That(Vmcs12Layout.Read(bed.Vmx.CachedVmcs12, VmcsField.ExitQualification), Is.EqualTo(5UL));
    }

    [Test]
    public void VmreadVmwrite_MemoryOperands_MoveEightBytes()
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.Vmptrld(VmxTestBed.Vmcs1);
        bed.H.Memory.Write(VmxTestBed.Operand + 0x10, 8, 0x1122_3344_5566_7788);
        bed.H[Register.RBX] = (ulong)VmcsField.GuestRsp;
        Assert.That(bed.Exec(a =>
        {
            a.vmwrite(rbx, __qword_ptr[rax + 0x10]);
            a.vmread(__qword_ptr[rax + 0x20], rbx);
        }, VmxTestBed.Operand), Is.Zero);
        Assert.That(bed.H.Memory.Read(VmxTestBed.Operand + 0x20, 8), Is.EqualTo(0x1122_3344_5566_7788UL));
    }

    [Test]
    public void Vmread_NonCanonicalMemoryDestination_RaisesGpAndKeepsFlags()
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.Vmptrld(VmxTestBed.Vmcs1);
        bed.H[Register.RBX] = (ulong)VmcsField.GuestRsp;
        bed.H.Cpu.Rflags = 2 | CpuState.FlagCf;
        Assert.That(bed.Fault(a => a.vmread(__qword_ptr[rax], rbx), 0x8000_0000_0000_0000), Is.EqualTo(13));
    }

    [Test]
    public void VmreadVmwrite_Cpl3_RaisesGp()
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.Vmptrld(VmxTestBed.Vmcs1);
        bed.H.Cpu.State.Cpl = 3;
        Assert.That(bed.Fault(a => a.vmread(rcx, rbx)), Is.EqualTo(13));
        Assert.That(bed.Fault(a => a.vmwrite(rbx, rcx)), Is.EqualTo(13));
    }

    [Test]
    public void VmreadVmwrite_ProtectedModeWithPaging_Use32BitOperands()
    {
        using var bed = new VmxTestBed(mode: CpuMode.Protected32);
        // VMX operation needs CR0.PG (IA32_VMX_CR0_FIXED0): identity-map 16 MiB with 4-MiB pages.
        const ulong pageDirectory = 0x30_0000;
        for (ulong i = 0; i < 4; i++)
        {
            bed.H.Memory.Write(pageDirectory + i * 4, 4, (i << 22) | 0x87);
        }

        ref CpuState s = ref bed.H.Cpu.State;
        s.Cr3 = pageDirectory;
        s.Cr4 |= CpuState.Cr4Pse;
        s.Cr0 |= CpuState.Cr0Pg | CpuState.Cr0Ne;
        bed.H.Cpu.FlushTlbAll();
        bed.H.Cpu.InvalidateFetch();
        Assert.That(bed.Exec(a => a.vmxon(__qword_ptr[eax]), bed.Ptr(VmxTestBed.VmxonRegion)), Is.Zero, "VMXON");
        bed.Vmptrld(VmxTestBed.Vmcs1);
        Vmcs12Layout.Write(bed.Vmx.CachedVmcs12, VmcsField.GuestRsp, 0xFFFF_FFFF_FFFF_FFFF);

        bed.H[Register.RBX] = (ulong)VmcsField.GuestRsp;
        bed.H[Register.RCX] = 0x1234_5678;
        Assert.That(bed.Exec(a =>
        {
            a.vmread(edx, ebx);
            a.vmwrite(ebx, ecx);
            a.vmread(__dword_ptr[eax + 0x40], ebx);
        }, VmxTestBed.Operand), Is.Zero);
        Assert.That(bed.H[Register.EDX], Is.EqualTo(0xFFFF_FFFFUL), "a 64-bit field reads as its low 32 bits");
        Assert.That(Vmcs12Layout.Read(bed.Vmx.CachedVmcs12, VmcsField.GuestRsp), Is.EqualTo(0x1234_5678UL), "upper bits cleared");
        Assert.That(bed.H.Memory.Read(VmxTestBed.Operand + 0x40, 4), Is.EqualTo(0x1234_5678UL));
    }

    [Test]
    public void VmreadVmwrite_AfterWarmUp_AllocateNothing()
    {
        using var bed = new VmxTestBed(vmxon: true);
        bed.Vmptrld(VmxTestBed.Vmcs1);
        bed.H[Register.RBX] = (ulong)VmcsField.GuestRip;
        bed.H[Register.RDX] = (ulong)VmcsField.TscOffsetHigh;
        bed.H.Load(a =>
        {
            Label top = a.CreateLabel();
            a.Label(ref top);
            a.vmwrite(rbx, rcx);
            a.vmread(rax, rbx);
            a.vmwrite(rdx, rax);
            a.vmread(__qword_ptr[CpuHarness.DataAddress], rdx);
            a.inc(rcx);
            a.jmp(top);
        });
        for (int i = 0; i < 20; i++)
        {
            Assert.That(bed.H.Cpu.Run(10_000), Is.EqualTo(StopReason.Budget), bed.H.Cpu.LastStopMessage);
        }

        // 10,000 accesses: 2,500 turns of the six-instruction loop, four VMREAD/VMWRITE in each.
        long before = GC.GetAllocatedBytesForCurrentThread();
        StopReason r = bed.H.Cpu.Run(15_000);
        long after = GC.GetAllocatedBytesForCurrentThread();
        Assert.That(r, Is.EqualTo(StopReason.Budget));
        Assert.That(after - before, Is.Zero, "bytes allocated by 10,000 VMREAD/VMWRITE");
        Assert.That(bed.H.Flags & VmxTestBed.Arith, Is.Zero, "they succeeded");
    }
}
