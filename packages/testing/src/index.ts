/**
 * Test support shared by the RabbitMQ tests and the chaos run: extra RabbitMQ nodes of their own
 * (plain, TLS, clustered), `rabbitmqctl`, and a TCP proxy that cuts, refuses and blackholes
 * connections. Not published.
 */
export * as Ports from "./Ports.js"
export * as Rabbitmqctl from "./Rabbitmqctl.js"
export * as RabbitNode from "./RabbitNode.js"
export * as TcpProxy from "./TcpProxy.js"
export * as TlsBroker from "./TlsBroker.js"
