using AseGateway.Http1Front;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace AseGateway.Tests.Http1Front;

/// <summary>
/// The front's header collection behaves as ASP.NET Core's <see cref="HeaderDictionary"/> wherever an application can
/// tell: the same random operations applied to both leave the same fields, answers and exceptions.
/// </summary>
public sealed class FrontHeadersTests
{
    private static readonly string[] Names =
    [
        HeaderNames.Host, "host", "HOST", HeaderNames.ContentLength, "content-length", "Accept", "X-A", "x-a", "X-B",
        "X-Long-Name-Of-A-Field", "Cookie", "X-C", "X-D", "X-E", "X-F", "X-G", "X-H", "X-I", "X-J", "X-K",
        // The length of Content-Length, other first letters; first letters the quick test folds alike ("[" and "{"
        // differ in 0x20 as cases do); a dotless i, which ordinal case rules take for an I.
        "Sec-Fetch-Dest", "sEC-fETCH-dEST", "[x]", "{x}", "If-Match", "\u0131f-Match",
    ];

    private static readonly StringValues[] ValuesToSet =
    [
        "a", "12", " 34 ", "-1", "1,2", "", StringValues.Empty, new StringValues(["x", "y"]), new StringValues(["7"]), "0",
    ];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void RandomOperations_LeaveTheSameStateAsHeaderDictionary(int seed)
    {
        var random = new Random(seed);
        var front = new FrontHeaders();
        var reference = new HeaderDictionary();
        for (var step = 0; step < 2000; step++)
        {
            var name = Names[random.Next(Names.Length)];
            var value = ValuesToSet[random.Next(ValuesToSet.Length)];
            var operation = random.Next(11);
            var clear = random.Next(20) == 0;
            if (operation == 10)
            {
                front.IsReadOnly = reference.IsReadOnly = !reference.IsReadOnly;
                continue;
            }

            var frontOutcome = Outcome(() => Apply(front, operation, clear, name, value));
            var referenceOutcome = Outcome(() => Apply(reference, operation, clear, name, value));
            Assert.True(referenceOutcome == frontOutcome, $"step {step}, operation {operation} on {name}={value}: {referenceOutcome} against {frontOutcome}");
            AssertSame(reference, front, $"step {step}, operation {operation} on {name}={value}");
        }
    }

    [Fact]
    public void Fields_KeepTheOrderTheyCameIn_AndRemovingTheCurrentOneInAForeachSkipsNone()
    {
        var headers = new FrontHeaders();
        foreach (var name in new[] { "A", "B", "C", "D", "E" })
        {
            headers[name] = name.ToLowerInvariant();
        }

        var seen = new List<string>();
        foreach (var (name, _) in headers)
        {
            seen.Add(name);
            if (name is "B" or "C")
            {
                headers.Remove(name);
            }
        }

        Assert.Equal(["A", "B", "C", "D", "E"], seen);
        Assert.Equal(["A", "D", "E"], headers.Keys);
    }

    [Fact]
    public void AddingWhileEnumerating_Throws_AsADictionaryDoes()
    {
        var headers = new FrontHeaders { ["A"] = "1" };
        Assert.Throws<InvalidOperationException>(() =>
        {
            foreach (var _ in headers)
            {
                headers["B"] = "2";
            }
        });
    }

    [Fact]
    public void HolesAreFilled_BeforeTheArraysGrow_AndTheOrderHolds()
    {
        var headers = new FrontHeaders();
        for (var i = 0; i < 16; i++)
        {
            headers[$"X-{i}"] = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        for (var i = 0; i < 16; i += 2)
        {
            headers.Remove($"X-{i}");
        }

        for (var i = 16; i < 40; i++)
        {
            headers[$"X-{i}"] = i.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        var expected = Enumerable.Range(0, 40).Where(i => i >= 16 || i % 2 == 1).Select(i => $"X-{i}").ToArray();
        Assert.Equal(expected, headers.Keys);
        Assert.Equal(expected.Length, headers.Count);
        Assert.Equal("39", headers["x-39"]);
    }

    [Fact]
    public void AppendField_JoinsARepeatedName_AsKestrelJoinsRepeatedRequestFields()
    {
        var headers = new FrontHeaders();
        headers.AppendField("Cookie", "a=1");
        headers.AppendField("Accept", "*/*");
        headers.AppendField("cookie", "b=2");
        Assert.Equal(new StringValues(["a=1", "b=2"]), headers[HeaderNames.Cookie]);
        Assert.Equal(["Cookie", "Accept"], headers.Keys);
    }

    [Fact]
    public void ReadOnly_RefusesEveryChange_WithKestrelsMessage()
    {
        var headers = new FrontHeaders { ["A"] = "1" };
        headers.IsReadOnly = true;
        var refused = new Action[]
        {
            () => headers["B"] = "2", () => headers.Add("B", "2"), () => headers.Remove("A"), () => headers.Clear(),
            () => headers.ContentLength = 3, () => headers.Remove(new KeyValuePair<string, StringValues>("A", "1")),
        };
        foreach (var change in refused)
        {
            var error = Assert.Throws<InvalidOperationException>(change);
            Assert.Equal("The response headers cannot be modified because the response has already started.", error.Message);
        }

        Assert.Equal("1", headers["A"]);
    }

    private static void Apply(IHeaderDictionary headers, int operation, bool clear, string name, StringValues value)
    {
        switch (operation)
        {
            case 0 or 1 or 2: headers[name] = value; break;
#pragma warning disable ASP0019 // Add's duplicate-key exception is part of what is compared.
            case 3: headers.Add(name, value); break;
#pragma warning restore ASP0019
            case 4: headers.Remove(name); break;
            case 5: headers.Remove(new KeyValuePair<string, StringValues>(name, value)); break;
            case 6: headers.ContentLength = value.Count == 1 && long.TryParse(value[0], out var length) && length >= 0 ? length : null; break;
            case 7: _ = ((IDictionary<string, StringValues>)headers)[name]; break;
            case 8: ((IDictionary<string, StringValues>)headers)[name] = value; break;
            case 9 when clear: headers.Clear(); break;
            default: break;
        }
    }

    private static string Outcome(Action action)
    {
        try
        {
            action();
            return "ok";
        }
        catch (Exception error)
        {
            return error.GetType().Name;
        }
    }

    private static void AssertSame(HeaderDictionary reference, FrontHeaders front, string step)
    {
        Assert.True(reference.Count == front.Count, $"{step}: Count {reference.Count} against {front.Count}");
        Assert.Equal(Sorted(reference), Sorted(front));
        Assert.Equal(reference.ContentLength, front.ContentLength);
        Assert.Equal(reference.IsReadOnly, front.IsReadOnly);
        foreach (var name in Names)
        {
            Assert.Equal(reference[name], front[name]);
            Assert.Equal(reference.ContainsKey(name), front.ContainsKey(name));
            Assert.Equal(reference.TryGetValue(name, out var expected), front.TryGetValue(name, out var actual));
            Assert.Equal(expected, actual);
            Assert.Equal(reference.Contains(new(name, "a")), front.Contains(new(name, "a")));
        }

        var copied = new KeyValuePair<string, StringValues>[front.Count + 1];
        front.CopyTo(copied, 1);
        Assert.Equal(Sorted(reference), copied.Skip(1).Select(Pair).Order(StringComparer.Ordinal));
        Assert.Equal(reference.Keys.Order(StringComparer.OrdinalIgnoreCase), front.Keys.Order(StringComparer.OrdinalIgnoreCase));
    }

    private static string[] Sorted(IHeaderDictionary headers) =>
        headers.Select(Pair).Order(StringComparer.Ordinal).ToArray();

    // The name as kept: a case-insensitive dictionary keeps the spelling first set, and so does the front's.
    private static string Pair(KeyValuePair<string, StringValues> field) => $"{field.Key}={string.Join('|', field.Value.ToArray())}";
}
