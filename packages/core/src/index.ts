/**
 * @since 0.1.0
 */
export * as Backend from "./Backend.js"
/**
 * @since 0.1.0
 */
export * as ChannelCapacity from "./ChannelCapacity.js"
/**
 * @since 0.1.0
 */
export * as ChannelLayer from "./ChannelLayer.js"
/**
 * @since 0.1.0
 */
export * as ChannelName from "./ChannelName.js"
/**
 * @since 0.1.0
 */
export * as Codec from "./Codec.js"
/**
 * @since 0.1.0
 */
export * as Consumer from "./Consumer.js"
/**
 * @since 0.1.0
 */
export * as Errors from "./Errors.js"
/**
 * @since 0.1.0
 */
export * as Fifo from "./Fifo.js"
/**
 * @since 0.1.0
 */
export * as InMemory from "./InMemory.js"
/**
 * @since 0.1.0
 */
export * as LocalQueues from "./LocalQueues.js"
/**
 * @since 0.1.0
 */
export * as Message from "./Message.js"
/**
 * @since 0.1.0
 */
export * as Metrics from "./Metrics.js"
/**
 * @since 0.1.0
 */
export * as Options from "./Options.js"
/**
 * @since 0.1.0
 */
export * as TypedChannel from "./TypedChannel.js"
/**
 * @since 0.1.0
 */
export * as Warnings from "./Warnings.js"
