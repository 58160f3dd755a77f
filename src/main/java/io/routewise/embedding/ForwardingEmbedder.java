package io.routewise.embedding;

/**
 * An embedder in front of another (a cache, a store on disk): what describes the vectors, their
 * dimension, input rule, fingerprint and model id, is the wrapped embedder's, so a wrapper never
 * changes which vectors a model was trained on.
 */
abstract class ForwardingEmbedder implements Embedder {
  protected final Embedder delegate;

  ForwardingEmbedder(Embedder delegate) {
    this.delegate = delegate;
  }

  public Embedder delegate() {
    return delegate;
  }

  @Override
  public int dimension() {
    return delegate.dimension();
  }

  @Override
  public String inputRule() {
    return delegate.inputRule();
  }

  @Override
  public String fingerprint() {
    return delegate.fingerprint();
  }

  @Override
  public String modelId() {
    return delegate.modelId();
  }
}
