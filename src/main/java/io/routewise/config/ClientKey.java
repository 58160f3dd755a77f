package io.routewise.config;

/**
 * A key clients send as their bearer token ({@code server.api_keys}), and the name their requests,
 * tokens and spend are counted under in the metrics and the access log.
 *
 * @param name the client's name when the keys are written as a mapping ({@code search: "${KEY}"}),
 *     else null
 * @param key the key itself
 */
public record ClientKey(String name, Secret key) {}
