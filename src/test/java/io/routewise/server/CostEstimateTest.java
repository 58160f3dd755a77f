package io.routewise.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** What a budget's hold reads of a request body before it is answered. */
class CostEstimateTest {
  private static long prompt(String body) {
    return CostEstimate.promptTokens(body.getBytes(StandardCharsets.UTF_8));
  }

  private static long cap(String body) {
    return CostEstimate.output(body.getBytes(StandardCharsets.UTF_8)).maxTokens();
  }

  /** An image as base64 is a file's tokens, not its bytes' (a 2 MB one held 500,000 tokens: a trial). */
  @Test
  void anEmbeddedFileCountsAsAFilesTokensNotItsBytes() {
    String text = "{\"messages\":[{\"role\":\"user\",\"content\":\"" + "What is in this picture? ".repeat(8) + "\"}]}";
    assertEquals(text.length() / 4, prompt(text));
    String image = "data:image/png;base64," + "iVBORw0KGgoAAAANSUhEUgAA/+=".repeat(80_000); // about 2 MB
    String withImage = "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"what is it?\"},"
        + "{\"type\":\"image_url\",\"image_url\":{\"url\":\"" + image + "\"}}]}]}";
    long tokens = prompt(withImage);
    assertEquals(1_000 + (withImage.length() - image.length() + "data:image/png;base64,".length()) / 4, tokens, 2);
    String escaped = image.replace("/", "\\/"); // as some serializers write a slash in JSON
    assertEquals(tokens, prompt(withImage.replace(image, escaped)), 2);
    String twoAudio = "{\"input\":[{\"data\":\"" + "QUJD".repeat(300) + "\"},{\"data\":\"" + "QUJD".repeat(300) + "\"}]}";
    assertEquals(2_000 + 28 / 4, prompt(twoAudio), 2);
    String shortBase64 = "{\"k\":\"" + "QUJD".repeat(100) + "\"}"; // 400 characters: text as far as this knows
    assertEquals(shortBase64.length() / 4, prompt(shortBase64));
  }

  private static String inputAudio(byte[] file, String format) {
    return "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\",\"input_audio\":{\"data\":\""
        + java.util.Base64.getEncoder().encodeToString(file) + "\",\"format\":\"" + format + "\"}}]}]}";
  }

  /** A minute of 24 kHz 16-bit mono WAV (48,000 bytes a second), a LIST chunk before its fmt. */
  private static byte[] wavMinute() {
    java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(12 + 8 + 6 + 8 + 16 + 8 + 48_000 * 60)
        .order(java.nio.ByteOrder.LITTLE_ENDIAN);
    b.put("RIFF".getBytes(StandardCharsets.US_ASCII)).putInt(b.capacity() - 8).put("WAVE".getBytes(StandardCharsets.US_ASCII));
    b.put("LIST".getBytes(StandardCharsets.US_ASCII)).putInt(5).put(new byte[] {'I', 'N', 'F', 'O', 0, 0}); // odd: padded
    b.put("fmt ".getBytes(StandardCharsets.US_ASCII)).putInt(16).putShort((short) 1).putShort((short) 1).putInt(24_000)
        .putInt(48_000).putShort((short) 2).putShort((short) 16);
    b.put("data".getBytes(StandardCharsets.US_ASCII)).putInt(48_000 * 60);
    for (int i = 0; b.hasRemaining(); i++) {
      b.put((byte) (i * 31)); // not silence: any sample base64s as sample
    }
    return b.array();
  }

  /** A minute of 64 kbps MPEG-1 layer III behind an ID3v2 tag of 300 bytes. */
  private static byte[] mp3Minute() {
    byte[] file = new byte[10 + 300 + 8_000 * 60];
    System.arraycopy("ID3".getBytes(StandardCharsets.US_ASCII), 0, file, 0, 3);
    file[3] = 4;
    file[8] = 2; // syncsafe 300: 2 << 7 | 44
    file[9] = 44;
    for (int at = 310; at + 4 <= file.length; at += 208) { // 64 kbps at 44.1 kHz: 208-byte frames
      file[at] = (byte) 0xFF;
      file[at + 1] = (byte) 0xFB; // MPEG-1, layer III, no CRC
      file[at + 2] = (byte) 0x50; // bitrate index 5 (64 kbps), 44.1 kHz
      file[at + 3] = (byte) 0xC4;
    }
    return file;
  }

  /**
   * Audio counts by how long it plays, about 10 tokens a second (a token per 100 ms, OpenAI's rate
   * for user audio), not as 1,000 whatever its length: a 10-minute recording (6,000 tokens) was held
   * a sixth of its cost, a 5-second one (50) 20 times it.
   */
  @Test
  void embeddedAudioCountsByHowLongItPlays() {
    String wav = inputAudio(wavMinute(), "wav");
    long text = (wav.length() - java.util.Base64.getEncoder().encodeToString(wavMinute()).length()) / 4;
    assertEquals(600 + text, prompt(wav), 2);
    assertEquals(600 + text, prompt(wav.replace("/", "\\/")), 3, "escaped slashes are slashes");
    String mp3 = inputAudio(mp3Minute(), "mp3");
    assertEquals(600 + text, prompt(mp3), 3);
    // cover art: a 200 kB tag, its first frame past the head decoded
    byte[] art = mp3Minute();
    byte[] withArt = new byte[art.length + 200_000];
    System.arraycopy(art, 0, withArt, 0, 10);
    System.arraycopy(art, 10, withArt, 200_010, art.length - 10);
    int size = 300 + 200_000; // syncsafe: 7 bits a byte
    withArt[6] = (byte) (size >> 21 & 0x7F);
    withArt[7] = (byte) (size >> 14 & 0x7F);
    withArt[8] = (byte) (size >> 7 & 0x7F);
    withArt[9] = (byte) (size & 0x7F);
    java.util.Arrays.fill(withArt, 10, 200_010, (byte) 0x41);
    assertEquals(600 + text, prompt(inputAudio(withArt, "mp3")), 3, "its art was taken at 128 kbps, and as audio");
    byte[] bogus = mp3Minute();
    bogus[6] = 0x7F; // a tag claiming 256 MB: the file is all it has, at 128 kbps (it was held as 0 s)
    assertEquals(300 + text, prompt(inputAudio(bogus, "mp3")), 3);
    byte[] tagOnly = mp3Minute();
    java.util.Arrays.fill(tagOnly, 310, tagOnly.length, (byte) 7); // no frame where the tag ends: 128 kbps
    assertEquals(300 + text, prompt(inputAudio(tagOnly, "mp3")), 3);
    byte[] noise = new byte[4_000];
    java.util.Arrays.fill(noise, (byte) 7);
    assertEquals(1_000 + text, prompt(inputAudio(noise, "wav")), 2, "no header: a file's 1,000");
  }

  /**
   * A VBR MP3 (LAME, most encoders' default for speech) begins with a Xing/Info frame written at 128
   * kbps (MPEG-1) whatever the bitrate of the frames after it, and that frame counts them: a minute at
   * ~64 kbps was read as half a minute (held at half), one at ~256 kbps as two.
   */
  @Test
  void aVbrMp3CountsByItsXingFramesNotItsFirstFramesBitrate() {
    int frames = 60 * 44_100 / 1152; // a minute at 44.1 kHz
    byte[] file = new byte[417 + frames * 208];
    file[0] = (byte) 0xFF;
    file[1] = (byte) 0xFB; // MPEG-1, layer III, no CRC
    file[2] = (byte) 0x90; // 128 kbps, 44.1 kHz: LAME's Info frame
    file[3] = (byte) 0xC4; // mono: 17 bytes of side information
    System.arraycopy("Xing".getBytes(StandardCharsets.US_ASCII), 0, file, 4 + 17, 4);
    file[4 + 17 + 7] = 1; // flags: a frame count follows
    java.nio.ByteBuffer.wrap(file, 4 + 17 + 8, 4).putInt(frames);
    for (int at = 417; at + 4 <= file.length; at += 208) { // 64 kbps frames
      file[at] = (byte) 0xFF;
      file[at + 1] = (byte) 0xFB;
      file[at + 2] = (byte) 0x50;
      file[at + 3] = (byte) 0xC4;
    }
    String mp3 = inputAudio(file, "mp3");
    long text = (mp3.length() - java.util.Base64.getEncoder().encodeToString(file).length()) / 4;
    assertEquals(600 + text, prompt(mp3), 3);
  }

  /**
   * Base64-looking text that is not a file's (a DNA sequence, a hex dump) is text; CJK a token a
   * character (a review: 100 kB of ACGT held as 1,015 tokens; raw CJK a third too little).
   */
  @Test
  void longTextInTheBase64AlphabetIsTextAndCjkATokenACharacter() {
    String dna = "{\"messages\":[{\"role\":\"user\",\"content\":\"" + "ACGT".repeat(25_000) + "\"}]}";
    assertEquals(dna.length() / 4, prompt(dna));
    String data = "{\"model\":\"m\",\"data\": \"" + "ACGT".repeat(25_000) + "\"}";
    assertEquals(1_000 + (data.length() - 100_000) / 4, prompt(data), 1, "a \"data\" value: a file's");
    String cjk = "{\"content\":\"" + "你好世界".repeat(1_000) + "\"}";
    assertEquals(4_000 + 14 / 4, prompt(cjk));
  }

  /** Text escaped to ASCII, as Python's json.dumps writes CJK, is text: it read as one 1,000-token file (a review). */
  @Test
  void escapedNonAsciiTextIsText() {
    StringBuilder t = new StringBuilder();
    for (int i = 0; i < 10_000; i++) {
      t.append(String.format("\\u%04x", 0x4e00 + i % 2000));
    }
    String body = "{\"messages\":[{\"role\":\"user\",\"content\":\"" + t + "\"}]}";
    assertEquals(body.length() / 4, prompt(body));
  }

  /**
   * An upstream reads one of the caps a body sets, not the least of them: vLLM and SGLang take
   * max_completion_tokens over max_tokens, and a JSON parser the last of a key given twice. Held at the
   * least, {max_tokens: 16, max_completion_tokens: 4000} held 16 tokens of an answer up to 4,000 long.
   */
  @Test
  void theOutputCapIsTheGreatestOfTheCapsTheBodySets() {
    assertEquals(-1, cap("{\"messages\":[]}"));
    assertEquals(4000, cap("{\"max_tokens\":4000,\"messages\":[]}"));
    assertEquals(4000, cap("{\"max_tokens\":16,\"max_completion_tokens\":4000,\"messages\":[]}"));
    assertEquals(4000, cap("{\"max_tokens\":16,\"messages\":[],\"max_tokens\":4000}"), "given twice");
    assertEquals(4000, cap("{\"max_tokens\":4000,\"max_completion_tokens\":300,\"messages\":[]}"));
    assertEquals(256, cap("{\"input\":\"hi\",\"max_output_tokens\":256}"));
    assertEquals(-1, cap("{\"max_tokens\":null,\"max_completion_tokens\":0,\"x\":{\"max_tokens\":9}}"), "nested: another's");
    assertEquals(-1, cap("[1]"));
    assertEquals(12, cap("{\"max_tokens\":12,\"messages\":[{"), "cut short: what was read");
    assertEquals(3, CostEstimate.output("{\"n\":3,\"messages\":[]}".getBytes(StandardCharsets.UTF_8)).choices());
    assertEquals(1, CostEstimate.output("{\"n\":0}".getBytes(StandardCharsets.UTF_8)).choices());
    // Go's decoder (Ollama's) reads a name in any case, the last copy winning: held at 16 and one choice, a
    // budgeted client's burst could generate 100,000 tokens times 4 each
    CostEstimate.Output other = CostEstimate.output(
        "{\"max_tokens\":16,\"n\":1,\"Max_Tokens\":100000,\"N\":4}".getBytes(StandardCharsets.UTF_8));
    assertEquals(100_000, other.maxTokens());
    assertEquals(4, other.choices());
    assertEquals(4, CostEstimate.output("{\"n\":4,\"n\":2}".getBytes(StandardCharsets.UTF_8)).choices(), "the greatest");
  }

  /** Audio asked back (modalities, or an audio object) and audio carried in: held at the audio rates. */
  @Test
  void audioInAndOutAreFound() {
    assertTrue(CostEstimate.output("{\"modalities\":[\"text\",\"audio\"],\"messages\":[]}".getBytes(StandardCharsets.UTF_8)).audio());
    assertTrue(CostEstimate.output("{\"audio\":{\"voice\":\"alloy\",\"format\":\"wav\"}}".getBytes(StandardCharsets.UTF_8)).audio());
    assertFalse(CostEstimate.output("{\"modalities\":[\"text\"],\"max_tokens\":5}".getBytes(StandardCharsets.UTF_8)).audio());
    assertEquals(5, CostEstimate.output("{\"modalities\":[\"text\"],\"max_tokens\":5}".getBytes(StandardCharsets.UTF_8))
        .maxTokens(), "read on past the array");
    assertTrue(CostEstimate.carriesAudio(("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\","
        + "\"input_audio\":{\"data\":\"UklG\",\"format\":\"wav\"}}]}]}").getBytes(StandardCharsets.UTF_8)));
    assertFalse(CostEstimate.carriesAudio("{\"messages\":[{\"role\":\"user\",\"content\":\"what is input_audio\"}]}"
        .getBytes(StandardCharsets.UTF_8)));
    // escaped, it is input_audio to the upstream, and was held at the text rate
    assertTrue(CostEstimate.carriesAudio(("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input\\u005faudio\","
        + "\"input\\u005faudio\":{\"data\":\"UklG\",\"format\":\"wav\"}}]}]}").getBytes(StandardCharsets.UTF_8)));
    assertFalse(CostEstimate.carriesAudio("{\"messages\":[{\"role\":\"user\",\"content\":\"caf\\u00e9 input_audio\"}]}"
        .getBytes(StandardCharsets.UTF_8)));
  }

  /** A prompt marked for the upstream's cache (Anthropic's cache_control, through OpenRouter): held at the cache-write rate. */
  @Test
  void aCacheControlMarkIsFound() {
    assertTrue(CostEstimate.asksCacheWrite(("{\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":\"text\","
        + "\"text\":\"a long manual\",\"cache_control\":{\"type\":\"ephemeral\"}}]}]}").getBytes(StandardCharsets.UTF_8)));
    assertTrue(CostEstimate.asksCacheWrite(("{\"messages\":[{\"role\":\"system\",\"content\":[{\"type\":\"text\","
        + "\"text\":\"a long manual\",\"cache\\u005fcontrol\":{\"type\":\"ephemeral\"}}]}]}").getBytes(StandardCharsets.UTF_8)));
    assertFalse(CostEstimate.asksCacheWrite("{\"messages\":[{\"role\":\"user\",\"content\":\"what does cache_control do?\"}]}"
        .getBytes(StandardCharsets.UTF_8)));
  }
}
