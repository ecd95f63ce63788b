package dev.megabridge.core.report;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import dev.megabridge.core.error.InternalException;
import java.io.IOException;
import java.nio.file.Path;

/** How every report is written as JSON: the {@code --json} form of a command's report. */
public final class ReportJson {
  /**
   * snake_case names for record components (map keys are written as given, already snake_case), paths as plain
   * absolute path strings instead of Jackson's default {@code file://} URIs, indented.
   */
  public static final ObjectMapper MAPPER = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT)
      .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
      .addModule(new SimpleModule("megabridge-paths").addSerializer(Path.class, new PathSerializer()))
      .build();

  private ReportJson() {}

  /** {@code report} as indented JSON text. */
  public static String write(Object report) {
    try {
      return MAPPER.writeValueAsString(report);
    } catch (JsonProcessingException e) {
      throw new InternalException("cannot write JSON: " + e.getMessage(), e);
    }
  }

  /** {@code report} as the JSON tree {@link #write} writes. */
  public static JsonNode tree(Object report) {
    return MAPPER.valueToTree(report);
  }

  /** A path as a JSON string: the absolute, normalized path (never a URI). */
  private static final class PathSerializer extends StdSerializer<Path> {
    PathSerializer() {
      super(Path.class);
    }

    @Override
    public void serialize(Path path, JsonGenerator generator, SerializerProvider provider) throws IOException {
      generator.writeString(path.toAbsolutePath().normalize().toString());
    }
  }
}
