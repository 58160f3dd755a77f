package io.routewise.routers;

/**
 * AdamW (decoupled weight decay, betas 0.9 / 0.999) over one float parameter array: the optimizer
 * of every trainer here (mf, the bert head). Plain loops, single-threaded, so training is
 * deterministic byte for byte.
 */
public final class AdamW {
  private static final double B1 = 0.9;
  private static final double B2 = 0.999;
  private final float[] m;
  private final float[] v;
  private int t;

  public AdamW(int size) {
    m = new float[size];
    v = new float[size];
  }

  public void step(float[] param, float[] grad, double lr, double decay) {
    t++;
    double c1 = 1 - Math.pow(B1, t);
    double c2 = 1 - Math.pow(B2, t);
    for (int i = 0; i < param.length; i++) {
      float g = grad[i];
      m[i] = (float) (B1 * m[i] + (1 - B1) * g);
      v[i] = (float) (B2 * v[i] + (1 - B2) * g * g);
      double mh = m[i] / c1;
      double vh = v[i] / c2;
      param[i] -= (float) (lr * (mh / (Math.sqrt(vh) + 1e-8) + decay * param[i]));
    }
  }
}
