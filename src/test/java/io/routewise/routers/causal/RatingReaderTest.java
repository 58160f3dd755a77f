package io.routewise.routers.causal;

import static io.routewise.routers.causal.JudgeResponses.withLogprobs;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.routewise.routers.causal.JudgeResponses.Tok;
import io.routewise.routing.RouterException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The reading of a judge's answer, without HTTP. */
class RatingReaderTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private static double read(String json) throws Exception {
    return RatingReader.strongWinRate(MAPPER.readTree(json));
  }

  @Test
  void winRateIsOneMinusTheRenormalizedProbabilityOfFourOrFive() throws Exception {
    // 0.6 of the mass is on ratings; 0.3 of it on 4 or 5 -> P(>=4) = 0.5
    String json = withLogprobs(List.of(Tok.of("[[4]]", "[[4]]", 0.2, "[[5]]", 0.1, "[[3]]", 0.2, "[[1]]", 0.1,
        "I", 0.4)));
    assertEquals(0.5, read(json), 1e-9);
  }

  @Test
  void readsTheDigitTokenAfterASeparateOpeningBracketToken() throws Exception {
    String json = withLogprobs(List.of(
        Tok.of("[[", "[[", 0.9, "[", 0.1),
        Tok.of("2", "2", 0.5, "4", 0.25, "5", 0.25),
        Tok.of("]]")));
    assertEquals(0.5, read(json), 1e-9);
  }

  @Test
  void readsRatingsSplitIntoSingleBracketsLeadingSpacesOrTrailingBrackets() throws Exception {
    assertEquals(0.1, read(withLogprobs(List.of(Tok.of("["), Tok.of("["),
        Tok.of("4", "4", 0.9, "3", 0.1), Tok.of("]]")))), 1e-9);
    assertEquals(0.25, read(withLogprobs(List.of(Tok.of("[["),
        Tok.of(" 5", " 5", 0.6, " 2", 0.25, "5", 0.15)))), 1e-9);
    assertEquals(1.0, read(withLogprobs(List.of(Tok.of("[["),
        Tok.of("3]]", "3]]", 0.7, "1]]", 0.3)))), 1e-9);
  }

  @Test
  void addsAlternativesThatSpellTheSameRatingDifferently() throws Exception {
    String json = withLogprobs(List.of(Tok.of("[["),
        Tok.of("4", "4", 0.3, " 4", 0.1, "4]]", 0.1, "1", 0.5)));
    assertEquals(0.5, read(json), 1e-9);
  }

  @Test
  void ignoresDigitsThatAppearBeforeTheOpeningBrackets() throws Exception {
    String json = withLogprobs(List.of(Tok.of("Score"), Tok.of(" 5", " 5", 0.9, " 1", 0.1), Tok.of(": "),
        Tok.of("[["), Tok.of("1", "1", 0.8, "5", 0.2)));
    assertEquals(0.8, read(json), 1e-9);
  }

  @Test
  void fallsBackToTheTextWhenNoAlternativeIsARating() throws Exception {
    String json = withLogprobs(List.of(Tok.of("[[5]]", "[[5]]x", 1.0)));
    assertEquals(0.0, read(json));
  }

  @Test
  void ratingTokensAreSingleDigitsOneToFiveOnceBracketsAndSpacesAreGone() {
    assertEquals(4, RatingReader.ratingOf("[[4]]"));
    assertEquals(4, RatingReader.ratingOf("\u01204"));
    assertEquals(1, RatingReader.ratingOf("\u25811"));
    assertEquals(0, RatingReader.ratingOf("6"));
    assertEquals(0, RatingReader.ratingOf("0"));
    assertEquals(0, RatingReader.ratingOf("45"));
    assertEquals(0, RatingReader.ratingOf("[["));
    assertEquals(0, RatingReader.ratingOf("4."));
  }

  @Test
  void aResponseWithoutChoicesIsABadResponse() {
    RouterException e = assertThrows(RouterException.class, () -> read("{\"error\":\"x\"}"));
    assertEquals("bad_response", e.kind());
  }

  @Test
  void aPositiveLogprobCountsAsCertaintyNotAsAnOverflow() throws Exception {
    // exp(800) is infinite, and ∞/∞ made the win rate NaN (an out_of_range failure, a null score)
    String json = """
        {"choices": [{"message": {"content": "[[4]]"}, "logprobs": {"content": [{"token": "[[4]]", "logprob": 800,
          "top_logprobs": [{"token": "[[4]]", "logprob": 800}, {"token": "[[2]]", "logprob": -1}]}]}}]}
        """;
    assertEquals(1 - 1 / (1 + Math.exp(-1)), read(json), 1e-12);
  }

  @Test
  void aDecimalRatingIsNotARating() {
    RouterException e = assertThrows(RouterException.class, () -> read(JudgeResponses.textOnly("[[4.5]]")));
    assertEquals("no_rating", e.kind());
  }
}
