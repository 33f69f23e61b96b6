global using unsafe HandlerFn = delegate*<Emulator.Cpu.Vcpu, in Iced.Intel.Instruction, void>;
