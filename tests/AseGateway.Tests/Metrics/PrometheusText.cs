using System.Globalization;
using System.Text;

namespace AseGateway.Tests.Metrics;

/// <summary>One sample of a Prometheus text exposition: name, labels and value.</summary>
public sealed record PrometheusSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

/// <summary>Reads the Prometheus text format (version 0.0.4) strictly enough to fail on a malformed line.</summary>
public static class PrometheusText
{
    public static List<PrometheusSample> Parse(string text)
    {
        var samples = new List<PrometheusSample>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            var brace = line.IndexOf('{', StringComparison.Ordinal);
            var space = line.LastIndexOf(' ');
            string name;
            if (brace >= 0 && brace < space)
            {
                name = line[..brace];
                var end = ReadLabels(line, brace + 1, labels);
                space = end;
            }
            else
            {
                name = line[..line.IndexOf(' ', StringComparison.Ordinal)];
                space = name.Length;
            }

            var fields = line[space..].Trim().Split(' ');
            samples.Add(new PrometheusSample(name, labels, ParseValue(fields[0])));
        }

        return samples;
    }

    /// <summary>Samples named <paramref name="name"/> whose labels include every pair of <paramref name="labels"/>.</summary>
    public static List<PrometheusSample> Find(this IEnumerable<PrometheusSample> samples, string name, params (string Name, string Value)[] labels) =>
        samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Name, out var v) && v == l.Value)).ToList();

    /// <summary>The sum of the matching samples (0 when none match).</summary>
    public static double Sum(this IEnumerable<PrometheusSample> samples, string name, params (string Name, string Value)[] labels) =>
        samples.Find(name, labels).Sum(s => s.Value);

    private static int ReadLabels(string line, int position, Dictionary<string, string> labels)
    {
        while (line[position] != '}')
        {
            var equals = line.IndexOf('=', position);
            var name = line[position..equals];
            Assert.Equal('"', line[equals + 1]);
            var value = new StringBuilder();
            var i = equals + 2;
            for (; line[i] != '"'; i++)
            {
                if (line[i] == '\\')
                {
                    i++;
                    value.Append(line[i] == 'n' ? '\n' : line[i]);
                }
                else
                {
                    value.Append(line[i]);
                }
            }

            labels[name] = value.ToString();
            position = line[i + 1] == ',' ? i + 2 : i + 1;
        }

        return position + 1;
    }

    private static double ParseValue(string value) => value switch
    {
        "+Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        "NaN" => double.NaN,
        _ => double.Parse(value, NumberStyles.Float, CultureInfo.InvariantCulture),
    };
}
