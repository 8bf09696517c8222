"""The synthetic multi-camera store: shoppers, staff, shelves, POS and RFID with complete
ground truth, rendered through the store's own cameras.

Stages, one module each: `scenario` (what happens, as counts and rates), `behaviour` (who goes
where and does what, on JuPedSim pedestrian dynamics), `ledger` (what the tills sold, what the
RFID gate read, when each session closed), `truth` (the ground-truth records: core records plus
the simulator's extra fields, validated on write), `appearance` (how people and products
look), `scene` (the 3-D primitives of one instant), `render` (a z-buffered rasteriser per
camera), `effects` (lighting, noise, blur, lens distortion), `groundtruth` (boxes and
visibility from the rendered id buffer) and `writer` (videos and ground-truth files).
`storelens.datasets.simulate.simulate` runs them all.
"""
