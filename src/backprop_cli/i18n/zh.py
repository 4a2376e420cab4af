"""中文：用原文（《图示+例子 深入理解 前向反向传播》）自己的术语。

紧挨着汉字的标点一律用全角（：，（）；）；公式和数值里的标点仍是半角（``λ = 0.01``、
``[1, 2]``）。占位符填进来的是公式或数值，它们与汉字之间要么隔一个空格，要么隔一个全角标点，
``tests/test_i18n.py`` 对每个示例配置的每种输出格式都检查这一点。
"""

STRINGS = {
    # ---- a step and its tables --------------------------------------------------------------
    "step.heading": "第 {step} 步 · {objective} = {value}",
    "forward.title": "前向传播",
    "col.node": "节点",
    "col.equation": "公式",
    "col.shape": "形状",
    "col.value": "数值",
    "kind.data": "数据",
    "kind.param": "参数",
    "kind.frozen": "参数（冻结）",
    "shape.scalar": "标量",
    "tensor.head": "{shape} 张量",
    "tensor.no_finite": "，没有一个有限值",
    "tensor.stats": "均值 {mean}  标准差 {std}\n最小 {min}  最大 {max}",
    "tensor.non_finite": "{count} 个非有限值",
    "backward.title": "反向传播：上游梯度 × 局部梯度 = 全局梯度",
    "col.step": "步骤",
    "col.target": "目标",
    "col.upstream": "上游梯度",
    "col.local": "局部梯度",
    "col.global": "全局梯度",
    "backward.only_node": "只列出涉及 {node} 的行",
    "sums.title": "由多条路径汇合而成的梯度",
    "col.tensor": "张量",
    "col.sum": "各项之和",
    "updates.title": "参数更新（{optimizer}）",
    "col.param": "参数",
    "col.rule": "更新规则",
    "col.before": "更新前",
    "col.gradient": "梯度",
    "col.state": "更新后的优化器状态",
    "col.after": "更新后",
    "updates.frozen": "冻结（不更新）：{names}",
    "updates.none": "没有可训练的参数",
    # ---- many steps ----------------------------------------------------------------------
    "summary.title": "{objective} 在 {steps} 步中的变化",
    "summary.sparkline": "每一步的 {objective}：{sparkline}",
    "col.which": "",
    "summary.first": "最初",
    "summary.last": "最后",
    "summary.best": "最低",
    # ---- --explain -------------------------------------------------------------------------
    # 原文的说法："到 + 节点：梯度在两条输入边 (L, s) 上各复用一份"；"ℓ₂ 节点：局部导数是 λW(i)，
    # 立刻得到正则对权重的梯度"；"× 节点：需要用矩阵微积分结果，把梯度分别乘以另一侧输入的转置"。
    "explain.title": "说明",
    "explain.edge.pass": "{symbol} 节点把 {upstream} 原样传给 {input}{also}，因为它的局部梯度是 1。",
    "explain.edge.pass.also": "（也同样传给 {others}）",
    "explain.edge.negate": "{symbol} 节点把 {upstream} 变号后传给 {input}：它的局部梯度是 "
    "{minus_one}。",
    "explain.edge.product": "{symbol} 节点把上游梯度乘以另一侧的输入 {other}。",
    "explain.edge.matmul": "{symbol} 节点要用矩阵微积分的结果：把梯度乘以另一侧输入的转置，"
    "即 {global_}。",
    "explain.edge.relu": "ReLU 在 {open_condition} 的位置让梯度通过，其余位置把它截断"
    "（{n} 个元素中有 {open} 个通过）。",
    "explain.edge.relu.scalar.open": "ReLU 让梯度通过，因为 {open_condition}。",
    "explain.edge.relu.scalar.closed": "ReLU 把梯度截断，因为 {closed_condition}。",
    "explain.edge.slope": "逐元素乘以 {function} 在 {input} 处的斜率，即 {local}。",
    "explain.edge.sum": "求和节点把 {upstream} 传回给 {input} 中参与求和的每一个元素。",
    "explain.edge.mean": "求平均节点把 {upstream} 乘以 {local}，再传回给 {input} "
    "中参与平均的每一个元素。",
    "explain.edge.max": "取最大值的节点只把 {upstream} 传回给 {input} 中最大的那个元素"
    "（并列最大时平分）：{local}。",
    "explain.edge.jacobian": "{function} 把 {input} 的各个元素混在了一起，所以上游梯度要乘以"
    "整个雅可比矩阵 {local}，而不是每个元素各乘一个斜率。",
    "explain.edge.rearrange": "{function} 只是挪动元素的位置：梯度原样送回这些元素在 {input} "
    "中原来的位置。",
    "explain.edge.cross_entropy": "交叉熵的局部梯度是预测概率减去真实概率：{local}。",
    "explain.edge.error": "损失的局部梯度就是误差 {local}。",
    "explain.edge.error.low": "损失的局部梯度就是误差 {error}：误差为负，说明预测低了。",
    "explain.edge.error.high": "损失的局部梯度就是误差 {error}：误差为正，说明预测高了。",
    "explain.edge.error.exact": "损失的局部梯度就是误差 {error}：预测恰好准确。",
    "explain.edge.target": "{input} 是数据，即真实标签：它的梯度只是记录下来，不用来训练。",
    "explain.edge.l2": "{symbol} 节点的局部导数是 {local}，立刻得到正则项对 {input} 的梯度："
    "把 {input} 往 0 拉。",
    "explain.edge.l1": "{symbol} 节点的局部导数是 {local}：对 {input} 的每个非零元素施加"
    "大小相同、指向 0 的拉力。",
    "explain.edge.conv": "卷积的梯度仍是一次互相关：{input} 的每个元素收集所有窗口覆盖过它的输出的"
    "上游梯度，即 {global_}。",
    "explain.edge.bias": "{input} 加到了其通道的每个位置上，所以它的梯度是上游梯度在这些位置上的"
    "总和：{global_}。",
    "explain.edge.scale": "{input} 在每个位置上缩放归一化后的值，所以它的梯度是上游梯度乘以这些值"
    "后在各位置上的总和：{global_}。",
    "explain.edge.pool_max": "最大池化把每个窗口的梯度交给 {input} 中该窗口的最大元素"
    "（相等时取按行优先顺序的第一个，与 PyTorch 相同）；属于多个窗口的元素把收到的梯度相加。",
    "explain.edge.pool_avg": "平均池化把每个窗口的梯度平分给 {input} 中参与平均的元素，"
    "每个得到 1/窗口大小；属于多个窗口的元素把收到的梯度相加。",
    "explain.edge.norm": "均值和方差由 {input} 自身算出，所以每个元素的梯度都取决于"
    "它所在的整组元素：{global_}。",
    "explain.edge.mask": "{function} 在键不晚于查询的位置让梯度通过；被遮盖的元素是负无穷，"
    "它们的梯度为 0。",
    "explain.edge.embedding": "输出的每一列是 {input} 的一行：梯度传回被查到的那些行，"
    "同一个编号用了几次，就把对应的几列相加。",
    "explain.edge.ids": "{input} 存的是整数编号，是标签而不是数值：它们没有梯度。",
    "explain.edge.dropout": "Dropout 在掩码保留的位置让梯度按比例放大后通过，"
    "在被丢弃的位置把它截断：{local}。",
    "explain.edge.unbroadcast": "前向传播时 {input} 被广播过，所以要把梯度求和，还原成它原来的"
    "形状。",
    "explain.edge.terms": "这是 {target} 的第 {term} 项（共 {terms} 项），其他路径的梯度也会"
    "加到它上面。",
    # 原文："权重梯度 -3.8：面积系数 w 应往大方向调"
    "explain.update.grows": "梯度为负（{grad}），更新时减去它，负负得正，所以 {param} "
    "往大的方向调：{move}。",
    "explain.update.shrinks": "梯度为正（{grad}），更新时减去它，所以 {param} 往小的方向调："
    "{move}。",
    "explain.update.stays": "{param} 没有变化：{move}。",
    "explain.update.grows_by_state": "尽管梯度是 {grad}，{param} 还是变大了（{move}）："
    "是优化器的状态（动量、滑动平均）带着它走。",
    "explain.update.shrinks_by_state": "尽管梯度是 {grad}，{param} 还是变小了（{move}）："
    "是优化器的状态（动量、滑动平均）带着它走。",
    "explain.update.tensor": "{param}：{grow} 个元素变大，{shrink} 个变小，{stay} 个不变；"
    "变化的 {moved} 个元素中，有 {against} 个是逆着梯度方向调整的。",
    "explain.edge.pick": "{function} 的每个元素取自其中一个输入：梯度只传给 {input} 中被取用的元素"
    "（相等时平分）：{local}。",
    "explain.edge.stop": "{function} 不向 {input} 传回任何梯度：局部梯度按定义为 0，"
    "{input} 的值在这里被当作常数。",
    "explain.update.grows.ascent": "梯度为正（{grad}），而目标是求最大值，所以 {param} 往大方向调：{move}。",
    "explain.update.shrinks.ascent": "梯度为负（{grad}），而目标是求最大值，所以 {param} 往小方向调：{move}。",
    "explain.update.tensor.ascent": "{param}：{grow} 个元素变大，{shrink} 个变小，{stay} 个不变；"
    "变化的 {moved} 个中有 {against} 个沿梯度方向调整（求最大值）。",
    # ---- compare -------------------------------------------------------------------------
    "compare.title": "有差异的路径",
    "compare.col.path": "路径",
    "compare.col.expected": "期望值（{expected}）",
    "compare.col.actual": "实际值（{actual}）",
    "compare.tolerance": "rtol {rtol}，atol {atol}",
    "compare.same": "{actual} 与 {expected} 一致（{read}；{tolerance}）",
    "compare.more": "……还有 {more} 处（用 --max-rows 全部列出）",
    "compare.differ": "{actual} 与 {expected} 有 {count} 处不同（{read}；{tolerance}）",
    "compare.read": "schema_version {version}，{form}",
    "compare.read.two": "{actual} 对 {expected}",
    "compare.read.as_v1": "，按 schema_version 1 比较",
    # ---- a trace stopped by a numerical anomaly ---------------------------------------------
    "anomaly.heading": "第 {step} 步 · {pass_name}中出现数值异常",
    "anomaly.pass.forward": "前向传播",
    "anomaly.pass.backward": "反向传播",
    "anomaly.pass.update": "参数更新",
    "anomaly.not_finite": "非有限值",
    "anomaly.elements": "元素",
    "anomaly.count": "{size} 个中有 {bad} 个（{counts}）：{elements}",
    "anomaly.input": "输入 {name}",
    "anomaly.note": "追踪到此停止（退出码 3）；加上 --allow-nonfinite 可以继续追踪，并用 ⚠ "
    "标出非有限值。",
    "anomaly.note.document": "追踪到此停止（退出码 3）；加上 --allow-nonfinite 可以继续追踪。",
    # ---- 表格排版 ---------------------------------------------------------------------------
    "backward.to": "→ {input}",
    "backward.unreached": "{objective} 的梯度不会传到 {names}：已经算出，但目标没有用到",
    "backward.data_hidden": "未列出数据（{names}）的梯度；加 --data-grads 可显示",
    "tensor.corners": "四角  {corners}",
    "layout.summarised": "宽于 {width} 列的张量只给出摘要；加 --full 显示完整张量",
    # ---- how to read the sparkline of a run of many steps ---------------------------------
    "summary.title.one": "{objective} 在 {steps} 步中的变化",
    "summary.marks": "每个符号是 {steps} 步的平均值。",
    "summary.scale.log": "对数刻度：▁ 为 {low}，█ 为 {high}。",
    "summary.scale.log_zero": "对数刻度：▁ 为 {low}（或 0），█ 为 {high}。",
    "summary.nonfinite": "{mark} 表示该处的 {objective} 至少有一步为 NaN 或 ±Inf。",
    # ---- backprop report：交互式网页 ---------------------------------------------------------
    "report.title": "逐步理解反向传播：{config}",
    "report.step": "训练步",
    "report.prev": "← 上一步",
    "report.next": "下一步 →",
    "report.mode.backward": "反向传播",
    "report.mode.forward": "前向传播",
    "report.large": "大字号",
    "report.keys": "按 → 和 ← 键（或按钮）沿传播方向逐条边前进或后退；旁边的按钮在反向传播和前向传播之间切换。把鼠标移到节点上可查看其值、梯度和形状。",
    "report.position.backward": "第 {i} 条边（共 {n} 条）",
    "report.position.forward": "第 {i} 个节点（共 {n} 个）",
    "report.start": "从目标函数开始：{formula}",
    "report.edge": "第 {i} 条边（共 {n} 条）：{equation}，传给 {input}",
    "report.node": "第 {i} 个节点（共 {n} 个）：{equation}",
    "report.complete": "{target} 已完整，是 {terms} 项之和：",
    "report.legend": "方块是张量（蓝色为参数），圆圈是运算符；数据从左向右流动。",
    "report.layout.dot": "由 Graphviz 布局。",
    "report.layout.fallback": "未找到 Graphviz（dot）：此图改用 backprop-cli 绘制的简单分层布局（备用）。",
    "report.plot": "每个训练步的 {objective}",
    "report.sampled": "页面包含 {total} 步中 {shown} 步的表格（第一步、均匀间隔的若干步和最后一步）；曲线包含每一步。",
}
