using System.Net;
using System.Net.Sockets;
using System.Text;
using AseGateway.Forwarding;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Primitives;

namespace AseGateway.Tests.Forwarding;

/// <summary>
/// <see cref="RequestFields"/> stands in for enumerating a request's headers in the stages that read them all: the
/// same fields in the same order, from Kestrel's own header collection, and an array lent per use on a thread.
/// </summary>
public sealed class RequestFieldsTests
{
    [Fact]
    public async Task KestrelRequest_FieldsInEnumerationOrder_KnownUnknownRepeatedAndContentLength()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http1));
        await using var app = builder.Build();
        app.Run(async context =>
        {
            var enumerated = new List<string>();
            foreach (var (name, values) in context.Request.Headers)
            {
                enumerated.Add($"{name}={values}");
            }

            var copied = new List<string>();
            using (var fields = RequestFields.Of(context.Request.Headers))
            {
                foreach (var (name, values) in fields.Span)
                {
                    copied.Add($"{name}={values}");
                }
            }

            var text = Encoding.ASCII.GetBytes(string.Join('\n', enumerated) + "\n--\n" + string.Join('\n', copied));
            context.Response.ContentLength = text.Length;
            await context.Response.Body.WriteAsync(text);
        });
        await app.StartAsync();
        var port = new Uri(app.Urls.First()).Port;

        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port);
        // Unknown fields between known ones, a repeated unknown and a repeated known field, and a body's length.
        var head = "POST /x HTTP/1.1\r\nX-Zeta: 1\r\nHost: fields.test\r\nAccept: */*\r\nX-Alpha: 2\r\nX-Zeta: 3\r\n"
            + "Cookie: a=1\r\nUser-Agent: test/1\r\nCookie: b=2\r\nContent-Length: 4\r\nConnection: close\r\n\r\nbody";
        await socket.SendAsync(Encoding.ASCII.GetBytes(head));
        var answer = await ReadToEndAsync(socket);
        var body = answer[(answer.IndexOf("\r\n\r\n", StringComparison.Ordinal) + 4)..];
        var halves = body.Split("\n--\n");

        Assert.Equal(2, halves.Length);
        Assert.Equal(halves[0], halves[1]);
        Assert.Contains("X-Zeta=1,3", halves[1], StringComparison.Ordinal);
        Assert.Contains("Content-Length=4", halves[1], StringComparison.Ordinal);
        Assert.Equal(8, halves[1].Split('\n').Length);
    }

    [Fact]
    public void NestedUse_GetsAnArrayOfItsOwn_TheOuterFieldsStayIntact()
    {
        var outer = new HeaderDictionary { ["A"] = "1", ["B"] = "2" };
        var inner = new HeaderDictionary { ["C"] = "3", ["D"] = "4", ["E"] = "5" };

        using var first = RequestFields.Of(outer);
        using (var second = RequestFields.Of(inner))
        {
            Assert.Equal(["C", "D", "E"], Names(second.Span));
        }

        Assert.Equal(["A", "B"], Names(first.Span));
        Assert.Equal(new StringValues("2"), first.Span[1].Value);
    }

    [Fact]
    public void ManyFields_MoreThanTheFirstArrayHolds()
    {
        var headers = new HeaderDictionary();
        for (var i = 0; i < 150; i++)
        {
            headers[$"X-Field-{i}"] = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        using (var small = RequestFields.Of(new HeaderDictionary { ["A"] = "1" }))
        {
            Assert.Equal(1, small.Span.Length);
        }

        using var many = RequestFields.Of(headers);
        Assert.Equal(150, many.Span.Length);
        Assert.Equal("X-Field-149", many.Span[149].Key);
    }

    private static string[] Names(ReadOnlySpan<KeyValuePair<string, StringValues>> fields)
    {
        var names = new string[fields.Length];
        for (var i = 0; i < fields.Length; i++)
        {
            names[i] = fields[i].Key;
        }

        return names;
    }

    private static async Task<string> ReadToEndAsync(Socket socket)
    {
        var buffer = new byte[16 * 1024];
        var total = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        int read;
        while ((read = await socket.ReceiveAsync(buffer.AsMemory(total), timeout.Token)) > 0)
        {
            total += read;
        }

        return Encoding.ASCII.GetString(buffer, 0, total);
    }
}
