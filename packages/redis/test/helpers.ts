import { randomBytes } from "node:crypto"

/** The shared Redis of the tests (REDIS_URL, default 127.0.0.1:6379, database 0). */
export const url = process.env.REDIS_URL ?? "redis://127.0.0.1:6379/0"

/** A key prefix of a test's own, so that tests on the shared Redis never see each other's keys. */
export const testPrefix = (name = "t"): string => `test-${name}-${randomBytes(4).toString("hex")}:`
