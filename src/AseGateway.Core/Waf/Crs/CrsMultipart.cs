namespace AseGateway.Waf.Crs;

/// <summary>
/// multipart/form-data (RFC 7578) as ModSecurity's MULTIPART processor exposes it: fields to ARGS_POST, files to
/// FILES/FILES_NAMES, every part header line to MULTIPART_PART_HEADERS, and a strict-error flag for malformed input.
/// </summary>
internal static class CrsMultipart
{
    public static void Parse(CrsRequestData data, string body)
    {
        var boundary = Parameter(data.ContentType ?? string.Empty, "boundary");
        if (string.IsNullOrEmpty(boundary))
        {
            data.MultipartStrictError = true;
            throw new FormatException("multipart body without a boundary");
        }

        var delimiter = "--" + boundary;
        var position = body.IndexOf(delimiter, StringComparison.Ordinal);
        if (position < 0)
        {
            data.MultipartStrictError = true;
            data.MultipartUnmatchedBoundary = true;
            return;
        }

        while (true)
        {
            var partStart = position + delimiter.Length;
            if (string.CompareOrdinal(body, partStart, "--", 0, 2) == 0)
            {
                return;
            }

            partStart = SkipLineEnd(body, partStart);
            var next = body.IndexOf("\n" + delimiter, partStart, StringComparison.Ordinal);
            if (next < 0)
            {
                data.MultipartStrictError = true;
                next = body.Length;
            }

            var contentEnd = next > 0 && body[next - 1] == '\r' ? next - 1 : next;
            AddPart(data, body[partStart..Math.Max(partStart, contentEnd)]);
            if (next >= body.Length)
            {
                return;
            }

            position = next + 1;
        }
    }

    private static int SkipLineEnd(string body, int index)
    {
        if (index < body.Length && body[index] == '\r')
        {
            index++;
        }

        return index < body.Length && body[index] == '\n' ? index + 1 : index;
    }

    private static void AddPart(CrsRequestData data, string part)
    {
        var headerEnd = part.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var separatorLength = 4;
        if (headerEnd < 0)
        {
            headerEnd = part.IndexOf("\n\n", StringComparison.Ordinal);
            separatorLength = 2;
            data.MultipartStrictError |= headerEnd >= 0;
        }

        if (headerEnd < 0)
        {
            data.MultipartStrictError = true;
            return;
        }

        string? name = null;
        string? filename = null;
        var headerLines = part[..headerEnd].Split('\n');
        foreach (var rawLine in headerLines)
        {
            var line = rawLine.TrimEnd('\r');
            if (line.Length == 0)
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                data.MultipartStrictError = true;
                continue;
            }

            if (line.AsSpan(0, colon).Trim().Equals("Content-Disposition", StringComparison.OrdinalIgnoreCase))
            {
                name = Parameter(line[(colon + 1)..], "name");
                filename = Parameter(line[(colon + 1)..], "filename") ?? Parameter(line[(colon + 1)..], "filename*");
            }

            // Recorded once the part's name is known below.
            data.MultipartPartHeaders.Add(new CrsItem(string.Empty, line));
        }

        name ??= string.Empty;
        for (var i = data.MultipartPartHeaders.Count - 1; i >= 0 && data.MultipartPartHeaders[i].Name.Length == 0; i--)
        {
            data.MultipartPartHeaders[i] = data.MultipartPartHeaders[i] with { Name = name };
        }

        var content = part[(headerEnd + separatorLength)..];
        if (filename is not null)
        {
            data.Files.Add(new CrsItem(name, filename));
            data.FilesNames.Add(new CrsItem(name, name));
            data.FilesCombinedSize += content.Length;
        }
        else
        {
            data.ArgsPost.Add(new CrsItem(name, content));
        }
    }

    /// <summary>A parameter of a header value (<c>name="x"</c> or <c>name=x</c>), or null. Quoted values may contain ';'.</summary>
    private static string? Parameter(string header, string parameter)
    {
        var i = 0;
        while (i < header.Length)
        {
            var semicolon = header.IndexOf(';', i);
            var start = semicolon < 0 ? header.Length : semicolon + 1;
            var equals = header.IndexOf('=', start);
            if (semicolon < 0 || equals < 0)
            {
                return null;
            }

            var name = header.AsSpan(start, equals - start).Trim();
            var valueStart = equals + 1;
            while (valueStart < header.Length && header[valueStart] == ' ')
            {
                valueStart++;
            }

            string value;
            if (valueStart < header.Length && header[valueStart] == '"')
            {
                var close = header.IndexOf('"', valueStart + 1);
                close = close < 0 ? header.Length : close;
                value = header[(valueStart + 1)..close];
                i = close;
            }
            else
            {
                var end = header.IndexOf(';', valueStart);
                end = end < 0 ? header.Length : end;
                value = header[valueStart..end].Trim();
                i = end;
            }

            if (name.Equals(parameter, StringComparison.OrdinalIgnoreCase))
            {
                return value;
            }
        }

        return null;
    }
}
