package dev.megabridge.core.convert;

import dev.megabridge.core.mapping.ParamMapping;
import dev.megabridge.core.spi.MegatronParam;
import dev.megabridge.core.tensor.DType;
import dev.megabridge.core.tensor.Shape;

/**
 * One tensor of one rank's file: its local Megatron name, the global parameter it shards, the resolved
 * mapping and the split (TP, or ETP for experts) coordinates, and the local dtype and shape.
 */
public record ShardEntry(String localName, MegatronParam param, ParamMapping mapping, int splitSize, int splitRank,
    DType dtype, Shape shape) {}
