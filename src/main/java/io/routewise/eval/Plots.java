package io.routewise.eval;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.internal.chartpart.Chart;

/** Writing a chart as the PNG a {@code --plot} option names. */
final class Plots {
  private Plots() {}

  /** Writes {@code chart} to {@code png} (".png" added when the name lacks it) and returns the file written. */
  static Path savePng(Chart<?, ?> chart, Path png) throws IOException {
    if (Files.isDirectory(png)) {
      throw new IOException(png + " is a directory: --plot takes a file name (e.g. " + png.resolve("curves.png") + ")");
    }
    String name = png.toString().endsWith(".png") ? png.toString().substring(0, png.toString().length() - 4)
        : png.toString();
    BitmapEncoder.saveBitmap(chart, name, BitmapEncoder.BitmapFormat.PNG); // it adds the extension
    return Path.of(name + ".png");
  }
}
