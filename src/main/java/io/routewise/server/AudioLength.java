package io.routewise.server;

/**
 * How long an embedded audio file plays, read from the head of its base64 (chat's {@code input_audio}
 * takes WAV and MP3): a budget's hold counts audio by its length, about 10 tokens a second (OpenAI
 * bills user audio a token per 100 ms), where one file was 1,000 tokens whatever it held (a 10-minute
 * recording, 6,000).
 */
final class AudioLength {
  private AudioLength() {}

  /** Prompt tokens a second of audio. */
  static final double TOKENS_PER_SECOND = 10;

  /** The most of a file's head decoded to find its format: a WAV's chunks before {@code fmt }, an MP3's first frame. */
  private static final int HEAD_BYTES = 64 << 10;

  /** Bytes decoded where an MP3's ID3 tag ends past the head (cover art): its first frame and VBR header. */
  private static final int FRAME_BYTES = 256;

  /** An MP3's bitrate when no frame header is found where its tag ends (a common one). */
  private static final int DEFAULT_MP3_BITS_PER_SECOND = 128_000;

  private static final int[] MPEG1_LAYER3_KBPS = {0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0};
  private static final int[] MPEG2_LAYER3_KBPS = {0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0};

  /**
   * The seconds of the audio file whose base64 is {@code body[start, end)} (JSON's escaped slashes
   * {@code \/} in it are slashes), or NaN when it is not WAV or MP3, or its header says nothing usable
   * (an image, a PDF: counted as a file).
   */
  static double seconds(byte[] body, int start, int end) {
    if (!audioHead(body, start, end)) {
      return Double.NaN; // an image, a PDF: neither decoded nor its 64 KiB head allocated
    }
    byte[] head = new byte[HEAD_BYTES];
    int headLength = 0;
    long tagEnd = -1; // where an MP3's ID3 tag ends past the head: its first frame is decoded there
    byte[] frame = null;
    int frameLength = 0;
    long decoded = 0;
    long sextets = 0;
    int bits = 0;
    int buffered = 0;
    for (int i = start; i < end; i++) {
      byte c = body[i];
      if (c == '\\' || c == '=') {
        continue; // an escaped slash's backslash, or padding
      }
      sextets++;
      if (decoded >= HEAD_BYTES && (frame == null || decoded >= tagEnd + FRAME_BYTES)) {
        continue; // only counted on
      }
      buffered = buffered << 6 | value(c);
      bits += 6;
      if (bits < 8) {
        continue;
      }
      bits -= 8;
      byte b = (byte) (buffered >> bits);
      if (decoded < HEAD_BYTES) {
        head[headLength++] = b;
        if (headLength == 10 && startsWith(head, headLength, 0, "ID3")
            && id3End(head) + 4 > HEAD_BYTES) {
          tagEnd = id3End(head);
          frame = new byte[FRAME_BYTES];
        }
      }
      if (frame != null && decoded >= tagEnd && decoded < tagEnd + FRAME_BYTES) {
        frame[frameLength++] = b;
      }
      decoded++;
    }
    long fileBytes = sextets * 6 / 8;
    if (startsWith(head, headLength, 0, "RIFF") && startsWith(head, headLength, 8, "WAVE")) {
      return wavSeconds(head, headLength, fileBytes);
    }
    if (frame != null) { // the tag (cover art) is not audio, unless it claims more than the file holds
      return mp3Seconds(frame, frameLength, 0, true, tagEnd < fileBytes ? fileBytes - tagEnd : fileBytes);
    }
    boolean tagged = startsWith(head, headLength, 0, "ID3") && headLength >= 10;
    long tag = tagged ? id3End(head) : 0;
    return mp3Seconds(head, headLength, (int) tag, tagged, tag < fileBytes ? fileBytes - tag : fileBytes);
  }

  /** Whether the file's first three bytes may begin a WAV ({@code RIF}) or an MP3 (an ID3 tag, a frame's sync). */
  private static boolean audioHead(byte[] body, int start, int end) {
    int first = 0;
    int n = 0;
    for (int i = start; i < end && n < 4; i++) {
      if (body[i] != '\\' && body[i] != '=') {
        first = first << 6 | value(body[i]);
        n++;
      }
    }
    if (n < 4) {
      return false;
    }
    int b0 = first >> 16 & 0xFF;
    int b1 = first >> 8 & 0xFF;
    int b2 = first & 0xFF;
    return b0 == 'R' && b1 == 'I' && b2 == 'F' || b0 == 'I' && b1 == 'D' && b2 == '3' || b0 == 0xFF && (b1 & 0xE0) == 0xE0;
  }

  /** Where an ID3v2 tag that {@code head} begins ends: its 10-byte header and its syncsafe size. */
  private static long id3End(byte[] head) {
    return 10 + ((head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7 | head[9] & 0x7F);
  }

  /** A WAV's length: its bytes over the byte rate its {@code fmt } chunk gives. */
  private static double wavSeconds(byte[] head, int length, long fileBytes) {
    for (int at = 12; at + 8 <= length; ) {
      long size = littleEndian(head, at + 4);
      if (startsWith(head, length, at, "fmt ") && at + 20 <= length) {
        long byteRate = littleEndian(head, at + 16);
        return byteRate > 0 ? (double) fileBytes / byteRate : Double.NaN;
      }
      at += 8 + (int) Math.min(size + (size & 1), HEAD_BYTES); // chunks are padded to even lengths
    }
    return Double.NaN;
  }

  /**
   * An MP3's length from its first frame, at {@code frame} of {@code head} (after an ID3v2 tag, when
   * {@code tagged}): the frame count of its VBR header, or its bytes over the frame's bitrate, taken
   * as the whole file's. A tagged file without a frame header where its tag ends is taken at 128 kbps.
   */
  private static double mp3Seconds(byte[] head, int length, int frame, boolean tagged, long audioBytes) {
    if (frame + 4 > length || (head[frame] & 0xFF) != 0xFF || (head[frame + 1] & 0xE0) != 0xE0) {
      return tagged ? audioBytes * 8.0 / DEFAULT_MP3_BITS_PER_SECOND : Double.NaN;
    }
    int version = head[frame + 1] >> 3 & 3; // 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
    int layer = head[frame + 1] >> 1 & 3; // 1: layer III
    int kbps = (version == 3 ? MPEG1_LAYER3_KBPS : MPEG2_LAYER3_KBPS)[head[frame + 2] >> 4 & 0xF];
    if (version == 1 || layer != 1 || kbps == 0) {
      return tagged ? audioBytes * 8.0 / DEFAULT_MP3_BITS_PER_SECOND : Double.NaN;
    }
    // a VBR file's first frame (LAME's Xing/Info, at 128 kbps whatever follows) counts its frames
    int sampleRate = new int[] {44_100, 48_000, 32_000, 0}[head[frame + 2] >> 2 & 3] >> (version == 3 ? 0 : version == 2 ? 1 : 2);
    boolean mono = (head[frame + 3] >> 6 & 3) == 3;
    int xing = frame + 4 + (version == 3 ? (mono ? 17 : 32) : (mono ? 9 : 17));
    if (sampleRate > 0 && xing + 12 <= length && (startsWith(head, length, xing, "Xing") || startsWith(head, length, xing, "Info"))
        && (head[xing + 7] & 1) != 0) {
      long frames = (head[xing + 8] & 0xFFL) << 24 | (head[xing + 9] & 0xFFL) << 16 | (head[xing + 10] & 0xFFL) << 8
          | head[xing + 11] & 0xFFL;
      if (frames > 0) {
        return frames * (version == 3 ? 1152.0 : 576.0) / sampleRate;
      }
    }
    return audioBytes * 8.0 / (kbps * 1000.0);
  }

  private static long littleEndian(byte[] b, int at) {
    return (b[at] & 0xFFL) | (b[at + 1] & 0xFFL) << 8 | (b[at + 2] & 0xFFL) << 16 | (b[at + 3] & 0xFFL) << 24;
  }

  private static boolean startsWith(byte[] b, int length, int at, String what) {
    if (at + what.length() > length) {
      return false;
    }
    for (int j = 0; j < what.length(); j++) {
      if (b[at + j] != what.charAt(j)) {
        return false;
      }
    }
    return true;
  }

  private static int value(byte c) {
    if (c >= 'A' && c <= 'Z') {
      return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
      return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
      return c - '0' + 52;
    }
    return c == '+' ? 62 : 63;
  }
}
