package io.routewise.routers.causal;

import com.fasterxml.jackson.databind.JsonNode;
import io.routewise.routing.RouterException;
import java.util.OptionalDouble;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Turns a judge's chat-completion response into the strong model's win rate, RouteLLM's way:
 * {@code 1 - P(rating >= 4)}, with P read from the top log-probabilities of the first rating token
 * and renormalized over the five ratings.
 *
 * <p>Endpoints split {@code [[4]]} differently ({@code "[[4]]"}, {@code "[["} + {@code "4"},
 * {@code "["} + {@code "["} + {@code "4"}, {@code " 4"}, {@code "4]]"}). So the tokens are joined,
 * the first {@code [[n} (n in 1..5) is found in the joined text, and the token holding that digit
 * is the rating position. Its alternatives count for a rating when, stripped of brackets and
 * whitespace (and the {@code Ġ}/{@code ▁} space markers of raw BPE/SentencePiece tokens), they are a
 * single digit 1..5; alternatives for the same rating add up.
 *
 * <p>Without log-probabilities (or when no alternative is a rating) the answer's text is read:
 * {@code [[4]]} or {@code [[5]]} gives 0, {@code [[1]]}..{@code [[3]]} gives 1.
 */
final class RatingReader {
  /** The first rating in a text; a digit followed by another digit or a dot is not a rating. */
  private static final Pattern RATING = Pattern.compile("\\[\\[\\s*([1-5])(?![0-9.])");

  private RatingReader() {}

  static double strongWinRate(JsonNode response) throws RouterException {
    JsonNode choice = response.path("choices").path(0);
    if (!choice.isObject()) {
      throw new RouterException("bad_response", "judge response has no choices[0]");
    }
    JsonNode tokens = choice.path("logprobs").path("content");
    if (tokens.isArray() && !tokens.isEmpty()) {
      OptionalDouble rate = fromLogprobs(tokens);
      if (rate.isPresent()) {
        return rate.getAsDouble();
      }
    }
    String text = choice.path("message").path("content").asText("");
    Matcher m = RATING.matcher(text);
    if (m.find()) {
      return m.group(1).charAt(0) >= '4' ? 0.0 : 1.0;
    }
    // The answer's text is not logged: it may echo the user's prompt.
    throw new RouterException("no_rating",
        "judge answered " + text.length() + " characters without a [[1]]..[[5]] rating");
  }

  private static OptionalDouble fromLogprobs(JsonNode tokens) {
    StringBuilder joined = new StringBuilder();
    int[] starts = new int[tokens.size() + 1];
    for (int i = 0; i < tokens.size(); i++) {
      starts[i] = joined.length();
      joined.append(tokens.get(i).path("token").asText(""));
    }
    starts[tokens.size()] = joined.length();
    Matcher m = RATING.matcher(joined);
    if (!m.find()) {
      return OptionalDouble.empty();
    }
    int digitAt = m.start(1);
    int position = 0;
    while (starts[position + 1] <= digitAt) {
      position++;
    }
    double[] mass = new double[6];
    for (JsonNode alt : tokens.get(position).path("top_logprobs")) {
      int rating = ratingOf(alt.path("token").asText(""));
      double logprob = alt.path("logprob").asDouble(Double.NaN);
      if (rating > 0 && Double.isFinite(logprob)) {
        mass[rating] += Math.exp(Math.min(0, logprob)); // a probability is at most 1: a positive logprob overflowed
      }
    }
    double total = mass[1] + mass[2] + mass[3] + mass[4] + mass[5];
    if (!(total > 0)) {
      return OptionalDouble.empty();
    }
    return OptionalDouble.of(1.0 - (mass[4] + mass[5]) / total);
  }

  /** 1..5 when the token is a rating digit once brackets and spaces are removed, else 0. */
  static int ratingOf(String token) {
    int digit = 0;
    for (int i = 0; i < token.length(); i++) {
      char c = token.charAt(i);
      if (c == '[' || c == ']' || Character.isWhitespace(c) || c == '\u0120' || c == '\u2581') {
        continue;
      }
      if (digit != 0 || c < '1' || c > '5') {
        return 0;
      }
      digit = c - '0';
    }
    return digit;
  }
}
