package io.routewise.config;

/** An API key. {@link #toString()} never shows it, so it cannot leak into logs or errors. */
public record Secret(String value) {
  public static Secret of(String value) {
    return new Secret(value == null ? "" : value);
  }

  public boolean isBlank() {
    return value.isBlank();
  }

  @Override
  public String toString() {
    return value.isEmpty() ? "Secret[empty]" : "Secret[***]";
  }
}
