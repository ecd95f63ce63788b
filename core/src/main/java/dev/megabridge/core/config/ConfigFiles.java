package dev.megabridge.core.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.megabridge.core.error.ConfigException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;

/** Edits of a written {@code config.json}: every other key is kept, the file written as transformers writes it. */
public final class ConfigFiles {
  private ConfigFiles() {}

  /** Reads {@code configFile}, applies {@code edit} to its top-level object and writes it back (two-space indent). */
  public static void rewrite(Path configFile, Consumer<ObjectNode> edit) {
    ObjectNode root;
    try {
      JsonNode parsed = HfConfig.JSON.readTree(Files.readString(configFile, StandardCharsets.UTF_8));
      if (parsed == null || !parsed.isObject()) {
        throw new ConfigException(configFile + ": top level is not a JSON object");
      }
      root = (ObjectNode) parsed;
    } catch (JsonProcessingException e) {
      throw new ConfigException(configFile + ": not valid JSON: " + e.getOriginalMessage());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + configFile + ": " + e.getMessage(), e);
    }
    edit.accept(root);
    write(configFile, root);
  }

  /** Writes {@code root} as transformers writes configs: two-space indent, {@code "key": value}. */
  public static void write(Path configFile, ObjectNode root) {
    DefaultPrettyPrinter printer = new DefaultPrettyPrinter(Separators.createDefaultInstance()
        .withObjectFieldValueSpacing(Separators.Spacing.AFTER).withObjectEmptySeparator("")
        .withArrayEmptySeparator(""))
        .withObjectIndenter(new DefaultIndenter("  ", "\n")).withArrayIndenter(new DefaultIndenter("  ", "\n"));
    try {
      Files.writeString(configFile, HfConfig.JSON.writer(printer).writeValueAsString(root) + "\n",
          StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + configFile + ": " + e.getMessage(), e);
    }
  }
}
