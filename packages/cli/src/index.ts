/**
 * @since 0.1.0
 */
export * as Cli from "./Cli.js"
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
export * as Stdio from "./Stdio.js"
/**
 * @since 0.1.0
 */
export * as Transport from "./Transport.js"
