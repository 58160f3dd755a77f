package io.routewise.routers;

import io.routewise.routing.Router;

/**
 * Builds one router at start. Problems with its settings or model files are reported through
 * {@code context.settings().problem(...)} (so all are shown at once) or thrown as
 * {@link IllegalArgumentException} / {@link java.io.IOException} with a message that names the file.
 */
@FunctionalInterface
public interface RouterFactory {
  Router create(RouterContext context) throws Exception;
}
