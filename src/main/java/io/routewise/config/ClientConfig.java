package io.routewise.config;

import java.time.Duration;

/** The one shared upstream HTTP client: its connection pool size and idle keep-alive. */
public record ClientConfig(int maxIdleConnections, Duration keepAlive) {}
