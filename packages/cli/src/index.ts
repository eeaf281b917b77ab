/**
 * @since 0.1.0
 */
export * as Args from "./Args.js"
/**
 * @since 0.1.0
 */
export * as Commands from "./Commands.js"
/**
 * @since 0.1.0
 */
export * as Json from "./Json.js"
/**
 * @since 0.1.0
 */
export * as Main from "./Main.js"
/**
 * @since 0.1.0
 */
export * as Transport from "./Transport.js"
