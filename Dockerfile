# AseGateway container image.
#   docker build -t asegateway .
#   docker run -p 8080:8080 -v "$PWD/ase.json:/etc/asegateway/ase.json:ro" asegateway
# The configuration is read from /etc/asegateway/ase.json (mount yours there; the gateway reloads it when it
# changes, including Kubernetes ConfigMap updates). Without a mount, the image serves its built-in container
# configuration (the quickstart apps, listening on every interface).

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY src/ src/
RUN dotnet publish src/AseGateway/AseGateway.csproj -c Release -o /app

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app ./
# OWASP CRS 3.3 as the distribution packages it: "ruleSetVersion": "3.3" without rulesPath loads
# /usr/share/modsecurity-crs (setup in /etc/modsecurity/crs).
RUN apt-get update \
    && apt-get install -y --no-install-recommends modsecurity-crs \
    && rm -rf /var/lib/apt/lists/*
COPY --chown=root:root src/AseGateway/container.ase.json /etc/asegateway/ase.json
ENV ASEGATEWAY_CONFIG=/etc/asegateway/ase.json \
    DOTNET_gcServer=0
# The built-in user of the ASP.NET images (UID 1654): the gateway never runs as root.
USER $APP_UID
EXPOSE 8080 8443
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["dotnet", "/app/AseGateway.dll", "healthcheck"]
ENTRYPOINT ["dotnet", "/app/AseGateway.dll"]
CMD ["--config", "/etc/asegateway/ase.json"]
