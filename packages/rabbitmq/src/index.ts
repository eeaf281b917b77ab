/**
 * @since 0.1.0
 */
export * as RabbitMQ from "./RabbitMQ.js"
/**
 * @since 0.1.0
 */
export * as RabbitMQConnection from "./RabbitMQConnection.js"
/**
 * @since 0.1.0
 */
export * as RabbitMQMetrics from "./RabbitMQMetrics.js"
