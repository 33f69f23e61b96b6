using System.Runtime.CompilerServices;

// Module-wide for Emulator.Vmx (DESIGN "Hot path"): locals on the VMREAD/VMWRITE and exit paths
// are always assigned before use, so the zero-initialisation prologue is wasted work.
[module: SkipLocalsInit]
