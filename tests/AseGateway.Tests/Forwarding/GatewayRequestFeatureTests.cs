using System.Net;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;
using AseGateway.Configuration;
using AseGateway.Forwarding;
using AseGateway.Model;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace AseGateway.Tests.Forwarding;

/// <summary>
/// A connection that serves one request at a time reuses one feature object for all of them: what the request stage
/// makes of a reused one must be what it makes of a new one, whatever the request before left in it.
/// </summary>
public sealed class GatewayRequestFeatureTests
{
    [Fact]
    public void Begin_OnAFeatureWithEveryFieldSet_LeavesWhatANewFeatureHas()
    {
        var used = WithEveryFieldSet(out var fields);
        var peer = IPAddress.Parse("10.1.2.3");
        var client = IPAddress.Parse("203.0.113.9");
        used.Begin(null!, peer, peerIsTrustedForwarder: true, client, null);
        var fresh = new GatewayRequestFeature(null!, peer, peerIsTrustedForwarder: true, client, null);

        foreach (var field in fields)
        {
            var reused = field.GetValue(used);
            var made = field.GetValue(fresh);
            Assert.True(
                field.FieldType.IsValueType ? Equals(reused, made) : ReferenceEquals(reused, made),
                $"{field.Name} kept {reused ?? "null"} from the request before; a new feature has {made ?? "null"}: reset it in Begin");
        }
    }

    [Fact]
    public void Clear_LeavesNothingOfTheRequest_NoReferenceKeptAlive()
    {
        var feature = WithEveryFieldSet(out var fields);
        feature.Clear();
        foreach (var field in fields)
        {
            Assert.True(IsDefault(field.GetValue(feature)), $"{field.Name} still holds {field.GetValue(feature)} after Clear");
        }
    }

    [Fact]
    public async Task RequestStage_OnAHoldingConnection_ReusesItsFeature_AndElsewhereMakesANewOne()
    {
        var loaded = ConfigLoader.Load(Encoding.UTF8.GetBytes(Instances.ProcessInstanceTests.Config(1)), "t", AppContext.BaseDirectory);
        Assert.True(loaded.IsValid, string.Join("; ", loaded.Errors));
        var snapshots = new SnapshotHolder();
        snapshots.Swap(SnapshotCompiler.Compile(loaded, 1, DateTimeOffset.UtcNow));
        GatewayRequestFeature? seen = null;
        var stage = new GatewayRequestMiddleware(context =>
        {
            seen = context.Features.Get<GatewayRequestFeature>();
            return Task.CompletedTask;
        }, snapshots);

        var connection = new HoldingFeatures();
        await stage.InvokeAsync(new DefaultHttpContext(connection.With(IPAddress.Parse("127.0.0.5"))));
        var first = seen;
        Assert.NotNull(first);
        Assert.Same(first, connection.GatewayRequest);
        first!.Instance = "left over";
        first.AnsweredBy = 3;

        await stage.InvokeAsync(new DefaultHttpContext(connection.With(IPAddress.Parse("127.0.0.6"))));
        Assert.Same(first, seen);
        Assert.Equal(IPAddress.Parse("127.0.0.6"), seen!.ClientAddress);
        Assert.Null(seen.Instance);
        Assert.Equal(0, seen.AnsweredBy);

        var elsewhere = new HoldingFeatures().With(IPAddress.Loopback);
        var plain = new FeatureCollection(elsewhere);
        await stage.InvokeAsync(new DefaultHttpContext(plain));
        Assert.NotSame(first, seen);
    }

    /// <summary>A feature collection that holds the gateway's feature, as the HTTP/1.1 front's connection does.</summary>
    private sealed class HoldingFeatures : FeatureCollection, IGatewayRequestFeatureHolder
    {
        public GatewayRequestFeature? GatewayRequest { get; set; }

        public HoldingFeatures With(IPAddress peer)
        {
            Set<IHttpRequestFeature>(new HttpRequestFeature { Headers = new HeaderDictionary { ["Host"] = "hello.localhost" } });
            Set<IHttpConnectionFeature>(new HttpConnectionFeature { RemoteIpAddress = peer, RemotePort = 40000 });
            Set<IHttpResponseFeature>(new HttpResponseFeature());
            return this;
        }
    }

    /// <summary>A feature whose every field holds a value other than its default, as a request could leave it.</summary>
    private static GatewayRequestFeature WithEveryFieldSet(out FieldInfo[] fields)
    {
        var feature = new GatewayRequestFeature(null!, IPAddress.Loopback, peerIsTrustedForwarder: false, IPAddress.Loopback, 50000);
        fields = typeof(GatewayRequestFeature).GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic);
        Assert.True(fields.Length >= 20, $"only {fields.Length} fields found: has the feature changed shape?");
        foreach (var field in fields)
        {
            field.SetValue(feature, NonDefault(field.FieldType));
            Assert.False(IsDefault(field.GetValue(feature)), $"{field.Name} could not be given a value the test can tell from its default");
        }

        return feature;
    }

    private static bool IsDefault(object? value) =>
        value is null || (value.GetType().IsValueType && value.Equals(RuntimeHelpers.GetUninitializedObject(value.GetType())));

    /// <summary>A value of <paramref name="type"/> other than its default (an uninitialised object will do: only identity is compared).</summary>
    private static object NonDefault(Type type)
    {
        var underlying = Nullable.GetUnderlyingType(type) ?? type;
        if (underlying == typeof(bool))
        {
            return true;
        }

        if (underlying.IsPrimitive)
        {
            return Convert.ChangeType(7, underlying, System.Globalization.CultureInfo.InvariantCulture);
        }

        if (underlying.IsValueType)
        {
            // A struct: its first field set, so that the whole differs from default.
            var boxed = RuntimeHelpers.GetUninitializedObject(underlying);
            var first = underlying.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)[0];
            first.SetValue(boxed, NonDefault(first.FieldType));
            return boxed;
        }

        if (underlying == typeof(string))
        {
            return "left over";
        }

        if (underlying.IsInterface && underlying.IsGenericType && underlying.GetGenericTypeDefinition() == typeof(IReadOnlyList<>))
        {
            return Array.CreateInstance(underlying.GetGenericArguments()[0], 1);
        }

        var concrete = underlying.IsInterface || underlying.IsAbstract ? Implementation(underlying) : underlying;
        return RuntimeHelpers.GetUninitializedObject(concrete);
    }

    private static Type Implementation(Type contract)
    {
        foreach (var assembly in AppDomain.CurrentDomain.GetAssemblies())
        {
            Type?[] types;
            try
            {
                types = assembly.GetTypes();
            }
            catch (ReflectionTypeLoadException ex)
            {
                types = ex.Types;
            }

            foreach (var type in types)
            {
                if (type is { IsAbstract: false, IsInterface: false, ContainsGenericParameters: false } && contract.IsAssignableFrom(type))
                {
                    return type;
                }
            }
        }

        throw new InvalidOperationException($"No class implements {contract}.");
    }
}
