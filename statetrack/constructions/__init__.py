"""DFA -> linear RNN constructions: GH factors, group and cascade constructions, exporters."""
