package dev.megabridge.core.quant;

import static org.assertj.core.api.Assertions.assertThat;

import dev.megabridge.core.quant.Fp8Policy.TensorParallelAxis;
import dev.megabridge.core.quant.Fp8TensorParallelCheck.Blocker;
import dev.megabridge.core.quant.Fp8TensorParallelCheck.Verdict;
import dev.megabridge.core.report.ReportJson;
import dev.megabridge.core.tensor.Shape;
import java.util.List;
import org.junit.jupiter.api.Test;

class TensorParallelReportTest {

  @Test
  void verdictsPrintOneLinePerSizeAndSerialiseAsAList() {
    TensorParallelReport report = TensorParallelReport.of(List.of(new Verdict(1, true, 0, List.of()),
        new Verdict(4, false, 3, List.of(new Blocker("w", Shape.of(64, 32), TensorParallelAxis.OUTPUT, 16,
            "slices of 16 cut through blocks of 128")))));
    assertThat(report.describe()).isEqualTo("""
        TP 1: loads
        TP 4: does not load (3 weights cut through blocks), e.g. w [64, 32] (slices of 16 cut through blocks of 128)
        loads at TP 1""");
    assertThat(report.notLoading()).containsExactly(4);
    assertThat(ReportJson.write(report).replaceAll("\\s+", "")).isEqualTo(("[{\"tp\":1,\"loads\":true,"
        + "\"blocking_weights\":0,\"first_blocking\":[]},{\"tp\":4,\"loads\":false,\"blocking_weights\":3,"
        + "\"first_blocking\":[{\"name\":\"w\",\"shape\":[64,32],\"axis\":\"output\",\"reason\":\"slices of 16 cut "
        + "through blocks of 128\"}]}]").replace(" ", ""));
  }
}
