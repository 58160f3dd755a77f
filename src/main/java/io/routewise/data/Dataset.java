package io.routewise.data;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Prompts and the pairwise comparisons ("battles") between models on them, the training input of the
 * learned routers.
 *
 * <p>From the outcomes format, every pair of models with a result on a prompt is a battle: the
 * better score wins, equal scores are a tie. A Chatbot-Arena row ({@code prompt, model_a, model_b,
 * winner}) is one battle. Battles are stored oriented (a is the winner, or either on a tie) in
 * parallel arrays, grouped by prompt: the battles of prompt p are {@code [start(p), start(p+1))}.
 */
public final class Dataset {
  private final List<PromptRecord> prompts;
  private final List<String> models;
  private final int[] start;
  private final int[] winner;
  private final int[] loser;
  private final boolean[] tie;

  Dataset(List<PromptRecord> prompts, List<String> models, int[] start, int[] winner, int[] loser, boolean[] tie) {
    this.prompts = prompts;
    this.models = models;
    this.start = start;
    this.winner = winner;
    this.loser = loser;
    this.tie = tie;
  }

  public List<PromptRecord> prompts() {
    return prompts;
  }

  public int size() {
    return prompts.size();
  }

  /** Model ids, in first-seen order; battles refer to them by index. */
  public List<String> models() {
    return models;
  }

  public int modelIndex(String id) {
    return models.indexOf(id);
  }

  public int battleStart(int prompt) {
    return start[prompt];
  }

  public int battleEnd(int prompt) {
    return start[prompt + 1];
  }

  public int battleCount() {
    return start[start.length - 1];
  }

  public int winner(int battle) {
    return winner[battle];
  }

  public int loser(int battle) {
    return loser[battle];
  }

  public boolean tie(int battle) {
    return tie[battle];
  }

  /**
   * {@code rows} and every other prompt with the same question ({@link #question}): what training
   * must leave out when {@code rows} are held out. The files repeat questions (MMLU-Pro's copies of
   * MMLU questions, most with six more options, dcrouter's train and test splits, repeats within a
   * file), and a copy left in training let a nearest-neighbour router find the held-out answer
   * (sw_ranking's MMLU APGR +0.013).
   */
  public java.util.Set<Integer> withCopies(java.util.Collection<Integer> rows) {
    java.util.Set<String> questions = new java.util.HashSet<>();
    for (int i : rows) {
      questions.add(question(prompts.get(i).prompt()));
    }
    java.util.Set<Integer> out = new java.util.HashSet<>(rows);
    for (int i = 0; i < prompts.size(); i++) {
      if (questions.contains(question(prompts.get(i).prompt()))) {
        out.add(i);
      }
    }
    return out;
  }

  /**
   * What makes two prompts one question: the text, white space around it aside; of a multiple-choice
   * prompt (the question, a line per option from {@code A. ...}, a last line {@code Answer:}) the
   * question alone, so MMLU-Pro's copy of an MMLU question with ten options is the same question
   * as MMLU's with four (720 of mmlu-gold's 1,476 questions; 45 of them have the same options too).
   */
  static String question(String prompt) {
    String text = prompt.strip();
    int options = text.indexOf("\nA. ");
    return options > 0 && text.endsWith("\nAnswer:") ? text.substring(0, options).strip() : text;
  }

  /** The prompts at {@code indices}, with their battles, over the same model list. */
  public Dataset subset(List<Integer> indices) {
    Builder b = new Builder(models);
    for (int p : indices) {
      b.prompt(prompts.get(p));
      for (int k = start[p]; k < start[p + 1]; k++) {
        b.battle(winner[k], loser[k], tie[k]);
      }
    }
    return b.build();
  }

  /** Accumulates prompts and battles; models are added on first use. */
  public static final class Builder {
    private final List<PromptRecord> prompts = new ArrayList<>();
    private final List<String> models;
    private final Map<String, Integer> modelIndex = new HashMap<>();
    private final List<Integer> starts = new ArrayList<>();
    private int[] winner = new int[1024];
    private int[] loser = new int[1024];
    private boolean[] tie = new boolean[1024];
    private int n;

    public Builder() {
      this(List.of());
    }

    Builder(List<String> models) {
      this.models = new ArrayList<>();
      models.forEach(this::model);
    }

    public int model(String id) {
      return modelIndex.computeIfAbsent(id, k -> {
        models.add(k);
        return models.size() - 1;
      });
    }

    /** Starts a new prompt; following battles belong to it. */
    public int prompt(PromptRecord record) {
      prompts.add(record);
      starts.add(n);
      return prompts.size() - 1;
    }

    public void battle(int winnerIdx, int loserIdx, boolean isTie) {
      if (n == winner.length) {
        winner = java.util.Arrays.copyOf(winner, n * 2);
        loser = java.util.Arrays.copyOf(loser, n * 2);
        tie = java.util.Arrays.copyOf(tie, n * 2);
      }
      winner[n] = winnerIdx;
      loser[n] = loserIdx;
      tie[n] = isTie;
      n++;
    }

    /** Adds the battles implied by the prompt's outcomes (all pairs). */
    public void outcomes(Map<String, Double> outcomes) {
      List<Map.Entry<String, Double>> list = new ArrayList<>(outcomes.entrySet());
      // every scored model, also one alone on its prompts (a label run of one upstream): no battle
      // names it, but its point-wise scores are training data (same order as the pairs would give)
      list.forEach(e -> model(e.getKey()));
      for (int i = 0; i < list.size(); i++) {
        for (int j = i + 1; j < list.size(); j++) {
          double a = list.get(i).getValue();
          double b = list.get(j).getValue();
          int ia = model(list.get(i).getKey());
          int ib = model(list.get(j).getKey());
          if (a > b) {
            battle(ia, ib, false);
          } else if (b > a) {
            battle(ib, ia, false);
          } else {
            battle(ia, ib, true);
          }
        }
      }
    }

    public Dataset build() {
      int[] s = new int[prompts.size() + 1];
      for (int i = 0; i < prompts.size(); i++) {
        s[i] = starts.get(i);
      }
      s[prompts.size()] = n;
      return new Dataset(List.copyOf(prompts), List.copyOf(models), s,
          java.util.Arrays.copyOf(winner, n), java.util.Arrays.copyOf(loser, n), java.util.Arrays.copyOf(tie, n));
    }
  }
}
