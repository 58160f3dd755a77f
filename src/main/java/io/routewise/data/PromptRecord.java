package io.routewise.data;

import java.util.Map;

/**
 * One prompt of a dataset in the outcomes format ({@code ../shared/data}): what each model scored on
 * it (higher is better; graded 0/1, F1, or a judge's 1..10).
 *
 * @param source the row's {@code source}, or the file name for Chatbot-Arena battle rows
 * @param category subject or task, may be null
 * @param outcomes model id to score; empty for battle rows (their battles are kept in {@link Dataset})
 */
public record PromptRecord(String id, String source, String category, String prompt, Map<String, Double> outcomes) {}
