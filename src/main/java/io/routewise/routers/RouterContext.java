package io.routewise.routers;

import io.routewise.config.ConfigNode;
import io.routewise.config.UpstreamConfig;
import io.routewise.embedding.EmbedderSource;
import java.nio.file.Path;

/**
 * What a router factory gets at start.
 *
 * @param name the router's catalog name
 * @param settings its {@code routers.<name>} config mapping (possibly empty); the factory reads it
 *     with the typed getters and calls {@code rejectUnknownKeys()}
 * @param modelsDir the configured models directory (default {@code models/})
 * @param embedders shared sentence embedders
 * @param strong the strong upstream (its model name helps pick defaults)
 * @param weak the weak upstream
 */
public record RouterContext(
    String name, ConfigNode settings, Path modelsDir, EmbedderSource embedders, UpstreamConfig strong,
    UpstreamConfig weak) {}
