namespace Emulator.Loading;

/// <summary>A guest image that cannot be loaded; the message is the one line the user sees.</summary>
public sealed class ImageException(string message) : Exception(message);
