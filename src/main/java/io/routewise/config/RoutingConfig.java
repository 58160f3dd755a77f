package io.routewise.config;

/** The router and threshold used when a request's model is not a {@code router-<name>-<alpha>} id. */
public record RoutingConfig(String router, double threshold) {}
