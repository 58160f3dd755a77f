package io.routewise.config;

/**
 * Jackson's parse errors in the words of whoever wrote the JSON (a client's request body, a data
 * file's line, a prices file): without the parts addressed to a Java programmer, the parser feature
 * that would allow it and the limits or source markers named after its classes (in backticks).
 */
public final class JsonMessages {
  private JsonMessages() {}

  /** {@code message}: a {@code JsonProcessingException}'s original message (null: none). */
  public static String readable(String message) {
    if (message == null) {
      return "unreadable.";
    }
    String s = message.lines().findFirst().orElse("")
        .replaceAll(":? ?enable `[^`]*` to allow.*$", "")
        .replaceAll(":? ?not allowed as per `[^`]*`", "")
        .replaceAll("maybe a \\(non-standard\\) comment\\? \\(not recognized as one since Feature '[A-Z_]+' not enabled.*$",
            "a comment, which JSON does not have")
        // Jackson's "[Source: REDACTED; line: 1, column: 43]" and "(for Array starting at ...)": where, in words
        .replaceAll("\\[Source: [^\\]]*; line: (\\d+), column: (\\d+)\\]", "line $1, column $2")
        .replace("(for Array starting at ", "(for the array opened at ")
        .replace("(for Object starting at ", "(for the object opened at ")
        .replace("(start marker at ", "(opened at ")
        .replaceAll("\\s*\\((?:[^()]|\\([^()]*\\))*`[^`]*`(?:[^()]|\\([^()]*\\))*\\)", "")
        .strip();
    return s.endsWith(".") ? s : s + ".";
  }
}
