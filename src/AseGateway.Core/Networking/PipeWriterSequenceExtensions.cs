using System.Buffers;
using System.IO.Pipelines;

namespace AseGateway.Networking;

internal static class PipeWriterSequenceExtensions
{
    /// <summary>Copies every segment of <paramref name="sequence"/> into <paramref name="writer"/>'s buffer; nothing is flushed.</summary>
    public static void Write(this PipeWriter writer, in ReadOnlySequence<byte> sequence)
    {
        foreach (var segment in sequence)
        {
            writer.Write(segment.Span);
        }
    }
}
