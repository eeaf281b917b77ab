/**
 * @since 0.1.0
 */
export * as Redis from "./Redis.js"
/**
 * @since 0.1.0
 */
export * as RedisConnection from "./RedisConnection.js"
/**
 * @since 0.1.0
 */
export * as RedisMetrics from "./RedisMetrics.js"
