using System.Text;
using AseGateway.Configuration;
using AseGateway.Tests.Infrastructure;

namespace AseGateway.Tests.Configuration;

public sealed class ConfigLoaderTests
{
    /// <summary>
    /// A valid file that sets every property of the model at least once; relative paths resolve against the repository root.
    /// Tests break it with <see cref="Mutate"/>; <see cref="SchemaModelTests"/> checks the schema accepts it.
    /// </summary>
    internal const string Full = """
        {
          // comments and trailing commas are fine in a hand-edited file
          "$schema": "./src/AseGateway/ase.schema.json",
          "name": "contoso-ase",
          "dnsSuffix": "localhost",
          "maxTotalWorkers": 50,
          "frontEnd": {
            "listeners": [
              { "name": "http", "address": "127.0.0.1", "port": 8080, "protocol": "Http" },
              { "name": "https", "address": "*", "port": 8443, "protocol": "Https" },
            ],
            "tls": { "minVersion": "Tls12", "http2": true, "certificates": [ { "path": "certs/dev/localhost.pfx", "default": true } ] },
            "trustedForwarders": [ "10.0.1.0/24", "127.0.0.1" ],
            "limits": {
              "maxConcurrentConnections": 10000, "maxConnectionsPerClient": 200, "requestHeadersTimeoutSeconds": 10,
              "keepAliveTimeoutSeconds": 120, "maxRequestHeadersTotalSizeInKb": 32, "maxRequestBodySizeInMb": 100,
              "minRequestBodyBytesPerSecond": 240, "minResponseBytesPerSecond": 240, "http2MaxStreamsPerConnection": 100
            }
          },
          "networkSecurityGroup": {
            "serviceTags": { "VirtualNetwork": [ "10.0.0.0/16", "127.0.0.0/8" ], "WafSubnet": [ "10.0.1.0/24" ] },
            "securityRules": [
              { "name": "AllowWafSubnet", "description": "the WAF device", "priority": 100, "access": "Allow", "protocol": "Tcp",
                "direction": "Inbound", "sourceAddressPrefixes": [ "WafSubnet" ], "destinationPortRanges": [ "8443" ] },
              { "name": "DenyBadRange", "priority": 200, "access": "Deny", "protocol": "*",
                "sourceAddressPrefix": "203.0.113.0/24", "destinationPortRange": "*" }
            ]
          },
          "wafPolicies": [
            {
              "name": "default",
              "policySettings": {
                "state": "Enabled", "mode": "Prevention", "requestBodyCheck": true, "maxRequestBodySizeInKb": 128,
                "requestBodyInspectLimitInKB": 128, "fileUploadLimitInMb": 100, "requestBodyEnforcement": true,
                "fileUploadEnforcement": true, "customBlockResponseStatusCode": 403,
                "customBlockResponseBody": "blocked: {transactionId}", "anomalyScoreThreshold": 5
              },
              "customRules": [
                { "name": "blockEvilBot", "priority": 2, "ruleType": "MatchRule", "state": "Enabled", "action": "Block",
                  "matchConditions": [ { "matchVariables": [ { "variableName": "RequestHeaders", "selector": "User-Agent" } ],
                    "operator": "Contains", "negationCondition": false, "matchValues": [ "evilbot" ], "transforms": [ "Lowercase", "Trim" ] } ] },
                { "name": "throttle", "priority": 3, "ruleType": "RateLimitRule", "action": "Block",
                  "rateLimitDuration": "OneMin", "rateLimitThreshold": 100,
                  "groupByUserSession": [ { "groupByVariables": [ { "variableName": "ClientAddr" } ] } ],
                  "matchConditions": [ { "matchVariables": [ { "variableName": "RemoteAddr" } ], "operator": "IPMatch",
                    "negationConditon": true, "matchValues": [ "10.0.0.0/8" ] } ] }
              ],
              "managedRules": {
                "managedRuleSets": [ { "ruleSetType": "AseDefault", "ruleSetVersion": "1.0",
                  "ruleGroupOverrides": [ { "ruleGroupName": "SQLI", "rules": [ { "ruleId": "942100", "state": "Disabled", "action": "Log" } ] } ] } ],
                "exclusions": [ { "matchVariable": "RequestCookieNames", "selectorMatchOperator": "Equals", "selector": "session",
                  "exclusionManagedRuleSets": [ { "ruleSetType": "AseDefault", "ruleSetVersion": "1.0",
                    "ruleGroups": [ { "ruleGroupName": "SQLI", "ruleIds": [ "942100" ] } ] } ] } ]
              },
              "hooks": [ { "name": "corp-inspector", "url": "http://127.0.0.1:9500/inspect", "timeoutMs": 50, "onError": "Allow",
                "maxConcurrency": 64, "includeBodyKb": 0 } ]
            }
          ],
          "defaultWafPolicy": "default",
          "wafAuditLog": { "path": "waf.log", "console": false, "maxFileSizeInMb": 10, "maxFiles": 5 },
          "healthCheck": { "intervalSeconds": 60, "timeoutSeconds": 10, "maxPingFailures": 10, "maxUnhealthyPercent": 50 },
          "workerPools": [
            { "name": "WP1", "workerSize": "Small", "workerCount": 2 },
            { "name": "WP2", "workerSize": "Medium", "workerCount": 2,
              "workers": [ { "address": "http://10.0.2.4:80" }, { "address": "http://10.0.2.5:80" } ] }
          ],
          "plans": [
            { "name": "dev", "workerPool": "WP1", "instanceCount": 2 },
            { "name": "prod", "workerPool": "WP2", "instanceCount": 2 }
          ],
          "apps": [
            {
              "name": "hello",
              "plan": "dev",
              "hostNames": [ "hello.contoso.com", "*.hello.contoso.com" ],
              "run": { "command": "dotnet", "args": [ "--info" ], "workingDirectory": ".", "environment": { "GREETING": "hi" } },
              "healthCheckPath": "/healthz",
              "healthCheck": { "maxPingFailures": 2 },
              "clientAffinityEnabled": true,
              "loadBalancing": "PowerOfTwoChoices",
              "httpsOnly": true,
              "hsts": { "maxAgeSeconds": 31536000, "includeSubDomains": true, "preload": false },
              "clientCertMode": "Optional",
              "clientCertExclusionPaths": [ "/public" ],
              "accessRestrictions": {
                "defaultAction": "Deny",
                "rules": [
                  { "name": "office", "description": "the office", "priority": 100, "action": "Allow", "ipAddress": "198.51.100.0/24,192.0.2.1" },
                  { "name": "vnet", "priority": 200, "action": "Allow", "serviceTag": "VirtualNetwork",
                    "headers": { "X-Forwarded-Host": [ "hello.contoso.com" ] } }
                ]
              },
              "wafPolicy": "default"
            },
            { "name": "shop", "plan": "prod", "hostNames": [ "shop.contoso.com" ], "loadBalancing": "LeastRequests" }
          ],
          "instances": { "drainTimeoutSeconds": 30, "stopTimeoutSeconds": 10 },
          "reload": { "pollIntervalSeconds": 5, "debounceMilliseconds": 250 },
          "management": {
            "address": "127.0.0.1",
            "port": 9090,
            "apiKeys": [
              { "name": "ops", "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "role": "Admin" },
              { "name": "viewer", "environmentVariable": "ASE_READER_KEY", "role": "Reader" }
            ],
            "maxRequestBodySizeInKb": 1024
          }
        }
        """;

    /// <summary>Every validation rule the brief names, broken at once.</summary>
    private const string Broken = """
        {
          "name": "contoso-ase",
          "dnsSuffix": "localhost",
          "frontEnd": {
            "listeners": [
              { "name": "http", "port": 8080, "protocol": "Http" },
              { "name": "https", "port": 70000, "protocol": "Https" }
            ],
            "trustedForwarders": [ "10.0.1.0/24", "10.0.0.0/33" ]
          },
          "healthCheck": { "maxPingFailures": 1 },
          "workerPools": [
            { "name": "WP1", "workerCount": 2 },
            { "name": "WP2", "workerCount": 2, "workers": [ { "address": "http://10.0.2.4:80" }, { "address": "http://10.0.2.5:80" } ] },
            { "name": "WP3", "workerCount": 1 },
            { "name": "WP4", "workerCount": 1 }
          ],
          "plans": [
            { "name": "dev", "workerPool": "WP1", "instanceCount": 3 },
            { "name": "prod", "workerPool": "WP2", "instanceCount": 2 }
          ],
          "apps": [
            { "name": "blog", "plan": "dev", "hostNames": [ "www.contoso.com" ] },
            { "name": "shop", "plan": "prod", "hostNames": [ "www.contoso.com" ], "run": { "command": "dotnet" }, "loadBalancing": "Fastest" },
            { "name": "ghost", "plan": "nowhere", "hostNames": [ "ghost.contoso.com" ] }
          ],
          "management": { "port": 8080 }
        }
        """;

    private static readonly string[] BrokenErrors =
    [
        "frontEnd.listeners[1].port: 70000 is not a TCP port (0-65535)",
        "frontEnd.tls.certificates: an Https listener needs at least one certificate",
        "frontEnd.trustedForwarders[1]: '10.0.0.0/33' is not an IP address or CIDR prefix",
        "healthCheck.maxPingFailures: must be between 2 and 10 (as App Service allows), not 1",
        "workerPools: an environment has at most 3 worker pools, not 4",
        "plans[0].instanceCount: worker pool 'WP1' has 2 workers but its plans (dev) need 3",
        "apps[0].run: the app's plan is on a process worker pool: say how to start the app with run.command",
        "apps[1].hostNames[0]: 'www.contoso.com' is already used by app 'blog'",
        "apps[1].loadBalancing: unknown load-balancing policy 'Fastest': use one of PowerOfTwoChoices, RoundRobin, LeastRequests, Random, FirstAlphabetical",
        "apps[1].run: the app's plan is on a static worker pool, whose workers already run the app: remove 'run' or use a pool without 'workers'",
        "apps[2].plan: there is no plan named 'nowhere'",
        "management.port: 8080 is already the port of frontEnd.listeners[0]: the management API never shares a public listener",
    ];

    [Fact]
    public void Load_FullConfiguration_IsValidAndReadsEverySection()
    {
        var result = Load(Full);

        Assert.True(result.IsValid, string.Join(Environment.NewLine, result.Errors));
        var config = result.Config!;
        Assert.Equal("./src/AseGateway/ase.schema.json", config.Schema);
        Assert.Equal(ListenerProtocol.Https, config.FrontEnd!.Listeners![1].Protocol);
        Assert.Equal(["10.0.0.0/16", "127.0.0.0/8"], config.NetworkSecurityGroup!.ServiceTags!["VirtualNetwork"]);
        Assert.Equal(WafRateLimitDuration.OneMin, config.WafPolicies![0].CustomRules![1].RateLimitDuration);
        Assert.True(config.WafPolicies[0].CustomRules![1].MatchConditions![0].NegationConditon);
        Assert.Equal("hi", config.Apps![0].Run!.Environment!["GREETING"]);
        Assert.Equal(ClientCertMode.Optional, config.Apps[0].ClientCertMode);
        Assert.Equal(ApiKeyRole.Reader, config.Management!.ApiKeys![1].Role);
        Assert.Equal(250, config.Reload!.DebounceMilliseconds);
    }

    [Fact]
    public void Load_ByteOrderMark_IsSkipped()
    {
        var result = ConfigLoader.Load([.. Encoding.UTF8.GetPreamble(), .. Encoding.UTF8.GetBytes(Full)], "test", RepoPaths.Root);

        Assert.True(result.IsValid, string.Join(Environment.NewLine, result.Errors));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   \n\t \r\n")]
    [InlineData("\uFEFF")]
    [InlineData("\uFEFF \n")]
    public void Load_EmptyOrBlank_IsTheFileIsEmpty(string content)
    {
        var result = Load(content);

        Assert.Equal([new ConfigError("$", "the file is empty")], result.Errors);
        Assert.Null(result.Config);
        Assert.False(result.IsValid);
    }

    [Theory]
    [InlineData("null", "$: the file must hold a JSON object, not null")]
    [InlineData("[]", "$: expected an object (line 1, column 2)")]
    [InlineData("42", "$: expected an object (line 1, column 3)")]
    [InlineData("\"ase\"", "$: expected an object (line 1, column 6)")]
    public void Load_NotAnObject_IsAnErrorAtTheRoot(string content, string expected)
    {
        Assert.Equal(expected, Assert.Single(Load(content).Errors).ToString());
    }

    [Fact]
    public void Load_TruncatedFile_IsInvalidJsonWithTheLineWhereItEnds()
    {
        // Cut short just inside the first WAF policy, as a half-written file would be.
        var truncated = Full[..Full.IndexOf("\"name\": \"default\"", StringComparison.Ordinal)].TrimEnd();
        var line = truncated.Count(c => c == '\n') + 1;
        var column = truncated.Length - truncated.LastIndexOf('\n');

        var error = Assert.Single(Load(truncated).Errors);

        Assert.Equal("wafPolicies[0]", error.Path);
        Assert.Equal(
            $"invalid JSON (line {line}, column {column}): Expected depth to be zero at the end of the JSON payload. There is an open JSON object or array that should be closed",
            error.Message);
    }

    [Fact]
    public void Load_MissingComma_IsInvalidJsonWithItsLine()
    {
        // The comma after "maxTotalWorkers" (line 6) is gone: the reader notices at the next property, line 7.
        var error = Assert.Single(Load(Mutate("\"maxTotalWorkers\": 50,", "\"maxTotalWorkers\": 50")).Errors);

        Assert.Equal("$", error.Path);
        Assert.StartsWith("invalid JSON (line 7, column 3): ", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"name\": \"contoso-ase\",", "\"name\": \"contoso-ase\", \"colour\": \"blue\",", "colour: unknown property 'colour' (line 4,")]
    [InlineData("\"name\": \"shop\",", "\"name\": \"shop\", \"colour\": \"blue\",", "apps[1].colour: unknown property 'colour' (line ")]
    [InlineData("{ \"name\": \"https\",", "{ \"name\": \"https\", \"tls\": {},", "frontEnd.listeners[1].tls: unknown property 'tls' (line 10,")]
    [InlineData("\"args\": [ \"--info\" ],", "\"args\": [ \"--info\" ], \"shell\": true,", "apps[0].run.shell: unknown property 'shell' (line ")]
    [InlineData("\"operator\": \"Contains\",", "\"operator\": \"Contains\", \"negate\": true,", "wafPolicies[0].customRules[0].matchConditions[0].negate: unknown property 'negate' (line ")]
    [InlineData("\"maxFiles\": 5 }", "\"maxFiles\": 5, \"maxAgeDays\": 7 }", "wafAuditLog.maxAgeDays: unknown property 'maxAgeDays' (line ")]
    public void Load_UnknownProperty_NamesItAtItsPath(string find, string replace, string expectedStart)
    {
        var error = Assert.Single(Load(Mutate(find, replace)).Errors);

        Assert.StartsWith(expectedStart, error.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"port\": 8080", "\"port\": \"8080\"", "frontEnd.listeners[0].port", "expected a whole number")]
    [InlineData("\"port\": 8080", "\"port\": 80.5", "frontEnd.listeners[0].port", "expected a whole number")]
    [InlineData("\"port\": 8080", "\"port\": 99999999999", "frontEnd.listeners[0].port", "expected a whole number")]
    [InlineData("\"httpsOnly\": true", "\"httpsOnly\": \"yes\"", "apps[0].httpsOnly", "expected true or false")]
    [InlineData("\"plan\": \"prod\"", "\"plan\": 7", "apps[1].plan", "expected a string")]
    [InlineData("\"hostNames\": [ \"shop.contoso.com\" ]", "\"hostNames\": \"shop.contoso.com\"", "apps[1].hostNames", "expected an array")]
    [InlineData("\"reload\": { \"pollIntervalSeconds\": 5, \"debounceMilliseconds\": 250 }", "\"reload\": 5", "reload", "expected an object")]
    [InlineData("\"GREETING\": \"hi\"", "\"GREETING\": 1", "apps[0].run.environment.GREETING", "expected a string")]
    [InlineData("\"GREETING\": \"hi\"", "\"my.var\": 1", "apps[0].run.environment['my.var']", "expected a string")]
    [InlineData("\"WafSubnet\": [ \"10.0.1.0/24\" ]", "\"WafSubnet\": \"10.0.1.0/24\"", "networkSecurityGroup.serviceTags.WafSubnet", "expected an array")]
    [InlineData("\"X-Forwarded-Host\": [ \"hello.contoso.com\" ]", "\"X-Forwarded-Host\": [ 5 ]", "apps[0].accessRestrictions.rules[1].headers.X-Forwarded-Host[0]", "expected a string")]
    public void Load_WrongType_SaysWhatWasExpected(string find, string replace, string path, string expected)
    {
        var error = Assert.Single(Load(Mutate(find, replace)).Errors);

        Assert.Equal(path, error.Path);
        Assert.StartsWith($"{expected} (line ", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"protocol\": \"Http\"", "\"protocol\": \"Gopher\"", "frontEnd.listeners[0].protocol", "Http, Https, Http2")]
    [InlineData("\"workerSize\": \"Small\"", "\"workerSize\": \"Huge\"", "workerPools[0].workerSize", "Small, Medium, Large")]
    [InlineData("\"minVersion\": \"Tls12\"", "\"minVersion\": \"Tls11\"", "frontEnd.tls.minVersion", "Tls12, Tls13")]
    [InlineData("\"clientCertMode\": \"Optional\"", "\"clientCertMode\": \"Sometimes\"", "apps[0].clientCertMode", "Ignore, Optional, Required")]
    [InlineData("\"role\": \"Reader\"", "\"role\": \"Root\"", "management.apiKeys[1].role", "Admin, Reader")]
    [InlineData("\"access\": \"Deny\"", "\"access\": \"Drop\"", "networkSecurityGroup.securityRules[1].access", "Allow, Deny")]
    [InlineData("\"mode\": \"Prevention\"", "\"mode\": \"Block\"", "wafPolicies[0].policySettings.mode", "Detection, Prevention")]
    [InlineData("\"rateLimitDuration\": \"OneMin\"", "\"rateLimitDuration\": \"OneHour\"", "wafPolicies[0].customRules[1].rateLimitDuration", "OneMin, FiveMins")]
    public void Load_UnknownEnumName_ListsTheAllowedNames(string find, string replace, string path, string names)
    {
        var error = Assert.Single(Load(Mutate(find, replace)).Errors);

        Assert.Equal(path, error.Path);
        Assert.StartsWith($"expected one of: {names} (line ", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"dnsSuffix\": \"localhost\",", "\"dnsSuffix\": \"localhost\", \"dnsSuffix\": \"test\",", "dnsSuffix", "dnsSuffix")]
    [InlineData("\"name\": \"shop\",", "\"name\": \"shop\", \"name\": \"store\",", "apps[1].name", "name")]
    [InlineData("\"GREETING\": \"hi\"", "\"GREETING\": \"hi\", \"GREETING\": \"ho\"", "apps[0].run.environment.GREETING", "GREETING")]
    public void Load_DuplicateProperty_IsAnError(string find, string replace, string path, string name)
    {
        var error = Assert.Single(Load(Mutate(find, replace)).Errors);

        Assert.Equal(path, error.Path);
        Assert.StartsWith($"property '{name}' appears more than once (line ", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"hostNames\": [ \"shop.contoso.com\" ]", "\"hostNames\": [ \"hello.contoso.com\" ]",
        "apps[1].hostNames[0]: 'hello.contoso.com' is already used by app 'hello'")]
    [InlineData("\"plan\": \"prod\"", "\"plan\": \"staging\"", "apps[1].plan: there is no plan named 'staging'")]
    [InlineData("\"loadBalancing\": \"LeastRequests\"", "\"loadBalancing\": \"Fastest\"",
        "apps[1].loadBalancing: unknown load-balancing policy 'Fastest': use one of PowerOfTwoChoices, RoundRobin, LeastRequests, Random, FirstAlphabetical")]
    [InlineData("{ \"name\": \"WP1\", \"workerSize\": \"Small\", \"workerCount\": 2 },",
        "{ \"name\": \"WP1\", \"workerSize\": \"Small\", \"workerCount\": 2 }, { \"name\": \"WP3\", \"workerCount\": 1 }, { \"name\": \"WP4\", \"workerCount\": 1 },",
        "workerPools: an environment has at most 3 worker pools, not 4")]
    [InlineData("\"workerPool\": \"WP1\", \"instanceCount\": 2", "\"workerPool\": \"WP1\", \"instanceCount\": 3",
        "plans[0].instanceCount: worker pool 'WP1' has 2 workers but its plans (dev) need 3")]
    [InlineData("\"maxTotalWorkers\": 50,", "\"maxTotalWorkers\": 3,",
        "workerPools: the pools have 4 workers in all, more than the environment's limit of 3 (maxTotalWorkers)")]
    [InlineData("\"healthCheck\": { \"maxPingFailures\": 2 }", "\"healthCheck\": { \"maxPingFailures\": 1 }",
        "apps[0].healthCheck.maxPingFailures: must be between 2 and 10 (as App Service allows), not 1")]
    [InlineData("\"loadBalancing\": \"LeastRequests\"", "\"loadBalancing\": \"LeastRequests\", \"run\": { \"command\": \"dotnet\" }",
        "apps[1].run: the app's plan is on a static worker pool, whose workers already run the app: remove 'run' or use a pool without 'workers'")]
    [InlineData("\"run\": { \"command\": \"dotnet\", \"args\": [ \"--info\" ], \"workingDirectory\": \".\", \"environment\": { \"GREETING\": \"hi\" } },", "",
        "apps[0].run: the app's plan is on a process worker pool: say how to start the app with run.command")]
    [InlineData("\"command\": \"dotnet\"", "\"command\": \"no-such-program-on-path\"",
        "apps[0].run.command: 'no-such-program-on-path' was not found (neither a file nor a program on PATH)")]
    [InlineData("\"GREETING\": \"hi\"", "\"PORT\": \"80\"",
        "apps[0].run.environment.PORT: 'PORT' is set by the gateway for each instance and cannot be overridden")]
    [InlineData("\"args\": [ \"--info\" ]", "\"args\": [ \"--info\", null ]",
        "apps[0].run.args[1]: an argument cannot be null (write \"\" for an empty one)")]
    [InlineData("\"GREETING\": \"hi\"", "\"GREETING\": null",
        "apps[0].run.environment.GREETING: a value cannot be null (write \"\" for an empty one)")]
    [InlineData("\"port\": 8443", "\"port\": 70000", "frontEnd.listeners[1].port: 70000 is not a TCP port (0-65535)")]
    [InlineData("\"port\": 8443", "\"port\": 8080", "frontEnd.listeners[1].port: *:8080 overlaps 127.0.0.1:8080 of frontEnd.listeners[0]: both cannot be bound")]
    [InlineData("\"address\": \"*\", \"port\": 8443", "\"address\": \"127.0.0.1\", \"port\": 8080",
        "frontEnd.listeners[1].port: 127.0.0.1:8080 is already used by frontEnd.listeners[0]")]
    [InlineData("\"address\": \"*\", \"port\": 8443", "\"address\": \"127.0.0.2\", \"port\": 8080", null)]
    [InlineData("\"certificates\": [ { \"path\": \"certs/dev/localhost.pfx\", \"default\": true } ]", "\"certificates\": []",
        "frontEnd.tls.certificates: an Https listener needs at least one certificate")]
    [InlineData("\"path\": \"certs/dev/localhost.pfx\"", "\"path\": \"certs/dev/missing.pfx\"",
        "frontEnd.tls.certificates[0].path: the file 'certs/dev/missing.pfx' does not exist")]
    [InlineData("\"trustedForwarders\": [ \"10.0.1.0/24\", \"127.0.0.1\" ]", "\"trustedForwarders\": [ \"10.0.1.0/24\", \"10.0.0.0/33\" ]",
        "frontEnd.trustedForwarders[1]: '10.0.0.0/33' is not an IP address or CIDR prefix")]
    [InlineData("\"port\": 9090", "\"port\": 8443",
        "management.port: 8443 is already the port of frontEnd.listeners[1]: the management API never shares a public listener")]
    [InlineData("\"port\": 9090", "\"port\": -1", "management.port: -1 is not a TCP port (0-65535)")]
    [InlineData("\"sha256\": \"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\", ", "",
        "management.apiKeys[0]: give either sha256 (the key's hash) or environmentVariable (where the key is), not both or neither")]
    [InlineData("\"name\": \"contoso-ase\"", "\"name\": \"contoso ase\"",
        "name: 'contoso ase' is not a valid name: use 1-60 letters, digits, hyphens or underscores")]
    [InlineData("\"priority\": 200, \"access\": \"Deny\"", "\"priority\": 50, \"access\": \"Deny\"",
        "networkSecurityGroup.securityRules[1].priority: must be between 100 and 4096, not 50")]
    [InlineData("\"serviceTag\": \"VirtualNetwork\"", "\"serviceTag\": \"Partners\"",
        "apps[0].accessRestrictions.rules[1].serviceTag: unknown service tag 'Partners': define it in networkSecurityGroup.serviceTags or use VirtualNetwork, AzureLoadBalancer, Internet")]
    [InlineData("\"maxConnectionsPerClient\": 200", "\"maxConnectionsPerClient\": 0",
        "frontEnd.limits.maxConnectionsPerClient: must be between 1 and 1000000, not 0")]
    [InlineData("\"drainTimeoutSeconds\": 30", "\"drainTimeoutSeconds\": 3601",
        "instances.drainTimeoutSeconds: must be between 0 and 3600, not 3601")]
    public void Validate_OneProblem_IsReportedAtItsPath(string find, string replace, string? expected)
    {
        var errors = Load(Mutate(find, replace)).Errors.Select(e => e.ToString());

        Assert.Equal(expected is null ? [] : [expected], errors);
    }

    [Fact]
    public void Validate_ManyProblems_ReportsEveryOneAndNothingElse()
    {
        var result = Load(Broken);

        Assert.Null(result.Config);
        Assert.Equal(BrokenErrors.Order(StringComparer.Ordinal), result.Errors.Select(e => e.ToString()).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("name", "name: the environment needs a name")]
    [InlineData("workerPools", "workerPools: at least one worker pool is required")]
    [InlineData("plans", "plans: the list of plans is required (it may be empty)")]
    [InlineData("apps", "apps: the list of apps is required (it may be empty)")]
    [InlineData("frontEnd", "frontEnd.listeners: at least one listener is required")]
    public void Validate_MissingRequiredSection_IsNamed(string property, string expected)
    {
        var errors = Load(RemoveProperty(Minimal, property)).Errors;

        Assert.Equal([expected], errors.Select(e => e.ToString()));
    }

    [Fact]
    public void Validate_MinimalFile_IsValid()
    {
        var result = Load(Minimal);

        Assert.True(result.IsValid, string.Join(Environment.NewLine, result.Errors));
    }

    [Fact]
    public void Validate_ListenerWithoutPortOrProtocol_NamesBoth()
    {
        var errors = Load(Minimal.Replace("\"port\": 8080, \"protocol\": \"Http\"", "\"address\": \"*\"", StringComparison.Ordinal)).Errors;

        Assert.Equal(
            ["frontEnd.listeners[0].port: a listener needs a port", "frontEnd.listeners[0].protocol: a listener needs a protocol: Http, Https or Http2"],
            errors.Select(e => e.ToString()));
    }

    [Fact]
    public void Hash_SameBytes_SameHash()
    {
        var bytes = Encoding.UTF8.GetBytes(Full);

        Assert.Equal(ConfigLoader.Hash(bytes), ConfigLoader.Hash(bytes.ToArray()));
        Assert.Equal(Load(Full).Sha256, Load(Full).Sha256);
        Assert.Equal(ConfigLoader.Hash(bytes), Load(Full).Sha256);
    }

    [Theory]
    [InlineData(" ")]
    [InlineData("\n")]
    public void Hash_DifferentBytes_DifferentHash(string suffix)
    {
        Assert.NotEqual(Load(Full).Sha256, Load(Full + suffix).Sha256);
    }

    [Fact]
    public void Hash_IsLowerCaseHexSha256_EvenOfInvalidFiles()
    {
        Assert.Equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", ConfigLoader.Hash([]));
        Assert.Equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", Load(string.Empty).Sha256);

        // A broken file still has a version, so the reloader can skip the same broken bytes.
        Assert.Equal(ConfigLoader.Hash("{"u8), Load("{").Sha256);
        Assert.NotEqual(Load(Full).Sha256, ConfigLoader.Load([.. Encoding.UTF8.GetPreamble(), .. Encoding.UTF8.GetBytes(Full)], "test", RepoPaths.Root).Sha256);
    }

    /// <summary>The smallest valid file: one listener, one process pool, no plans or apps.</summary>
    private const string Minimal = """
        {
          "name": "tiny",
          "frontEnd": { "listeners": [ { "name": "http", "port": 8080, "protocol": "Http" } ] },
          "workerPools": [ { "name": "WP1", "workerCount": 1 } ],
          "plans": [],
          "apps": []
        }
        """;

    /// <summary><see cref="Full"/> with one exact, unique piece of text replaced (a piece that is not there fails the test, not silently passes it).</summary>
    internal static string Mutate(string find, string replace)
    {
        var at = Full.IndexOf(find, StringComparison.Ordinal);
        Assert.True(at >= 0, $"'{find}' is not in the full configuration");
        Assert.True(Full.IndexOf(find, at + 1, StringComparison.Ordinal) < 0, $"'{find}' is in the full configuration more than once");
        return string.Concat(Full.AsSpan(0, at), replace, Full.AsSpan(at + find.Length));
    }

    private static string RemoveProperty(string json, string property)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
        Assert.True(node.Remove(property), $"no '{property}' to remove");
        return node.ToJsonString();
    }

    private static ConfigLoadResult Load(string json) => ConfigLoader.Load(Encoding.UTF8.GetBytes(json), "test", RepoPaths.Root);
}
