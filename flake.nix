{
  description = "channel-layer: the Django Channels layer on Effect, with in-memory, RabbitMQ and ZeroMQ transports";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.11";

  outputs = { self, nixpkgs }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" "x86_64-darwin" "aarch64-darwin" ];
      forAll = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${system});
    in {
      devShells = forAll (pkgs: {
        default = pkgs.mkShell {
          packages = [
            pkgs.nodejs_20
            pkgs.python3
            pkgs.rabbitmq-server
            pkgs.openssl
            (pkgs.writeShellScriptBin "start-rabbitmq" ''
              # A throwaway broker for the tests: data under .tmp/, the asgi vhost the layer's default URL names.
              export RABBITMQ_MNESIA_BASE="$PWD/.tmp/rabbitmq/mnesia"
              export RABBITMQ_LOG_BASE="$PWD/.tmp/rabbitmq/log"
              mkdir -p "$RABBITMQ_MNESIA_BASE" "$RABBITMQ_LOG_BASE"
              rabbitmq-server -detached
              rabbitmqctl await_startup
              rabbitmqctl list_vhosts | grep -qx asgi || rabbitmqctl add_vhost asgi
              rabbitmqctl set_permissions -p asgi guest '.*' '.*' '.*'
            '')
          ];
        };
      });
    };
}
