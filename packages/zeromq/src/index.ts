/**
 * @since 0.1.0
 */
export * as ZeroMQ from "./ZeroMQ.js"

/**
 * @since 0.1.0
 */
export * as ZeroMQMetrics from "./ZeroMQMetrics.js"

/**
 * @since 0.1.0
 */
export * as ZeroMQProxy from "./ZeroMQProxy.js"
