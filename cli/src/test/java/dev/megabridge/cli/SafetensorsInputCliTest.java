package dev.megabridge.cli;

import static dev.megabridge.cli.CliTest.fixture;
import static dev.megabridge.cli.CliTest.run;
import static org.assertj.core.api.Assertions.assertThat;

import dev.megabridge.cli.CliTest.Run;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** HF folders that safetensors' own reader would not load, or whose weights are ambiguous: exit 3, named. */
class SafetensorsInputCliTest {

  @TempDir
  Path temp;

  private Path copy(String name) throws IOException {
    return CliTest.copyFolder(fixture(name), temp.resolve(name));
  }

  @Test
  void trailingBytesAfterTheLastTensorAreBadInputNamingTheFileTheDataEndAndTheSize() throws IOException {
    Path source = copy("qwen35_dense_vl_bf16");
    Path weights = source.resolve("model.safetensors");
    long dataEnd = Files.size(weights);
    Files.write(weights, new byte[16], StandardOpenOption.APPEND);
    for (String command : new String[] {"import", "inspect"}) {
      Run refused = command.equals("import") ? run("import", source.toString(), temp.resolve("out").toString())
          : run("inspect", source.toString());
      assertThat(refused.exitCode()).as(refused.err()).isEqualTo(3);
      assertThat(refused.err()).contains(weights.toString(), "ends at byte " + dataEnd,
          "the file has " + (dataEnd + 16) + " bytes", "16 trailing bytes");
    }
    assertThat(temp.resolve("out")).doesNotExist();
  }

  @Test
  void aFolderWithBothASingleFileAndAnIndexIsBadInputNamingBoth() throws IOException {
    Path source = copy("qwen35_dense_vl_bf16_sharded");
    Files.copy(fixture("qwen35_dense_vl_bf16").resolve("model.safetensors"), source.resolve("model.safetensors"));
    Run refused = run("import", source.toString(), temp.resolve("out").toString());
    assertThat(refused.exitCode()).as(refused.err()).isEqualTo(3);
    assertThat(refused.err()).contains(source.resolve("model.safetensors").toString(),
        source.resolve("model.safetensors.index.json").toString(), "ambiguous");
    assertThat(temp.resolve("out")).doesNotExist();
  }
}
