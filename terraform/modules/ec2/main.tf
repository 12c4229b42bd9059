# Named EC2 instances in private subnets: no inbound rules (people reach
# them through SSM Session Manager), IMDSv2 only, encrypted gp3 volumes.

locals {
  # management = {count = 2} becomes management-1 and management-2. Keys never
  # depend on the count, so scaling 1 -> 2 adds an instance and replaces none.
  hosts = merge([
    for role, spec in var.instances : {
      for i in range(spec.count) : "${role}-${i + 1}" => merge(spec, { role = role, index = i })
    }
  ]...)
}

data "aws_ssm_parameter" "ami" {
  name = var.ami_parameter
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = "${var.name_prefix}-ec2"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

resource "aws_iam_role_policy_attachment" "ssm" {
  role       = aws_iam_role.this.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "this" {
  name = "${var.name_prefix}-ec2"
  role = aws_iam_role.this.name
  tags = var.tags
}

resource "aws_security_group" "this" {
  name        = "${var.name_prefix}-ec2"
  description = "EC2 instances: no inbound; HTTPS out for SSM and package mirrors"
  vpc_id      = var.vpc_id
  tags        = var.tags

  egress {
    description = "HTTPS to AWS APIs (SSM, EKS, ECR) and package mirrors"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_instance" "this" {
  for_each = local.hosts

  ami                    = data.aws_ssm_parameter.ami.value
  instance_type          = each.value.instance_type
  subnet_id              = var.subnet_ids[each.value.index % length(var.subnet_ids)]
  vpc_security_group_ids = [aws_security_group.this.id]
  iam_instance_profile   = aws_iam_instance_profile.this.name
  monitoring             = true
  ebs_optimized          = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  root_block_device {
    volume_type = "gp3"
    volume_size = each.value.volume_gb
    iops        = each.value.volume_iops
    throughput  = each.value.volume_throughput
    encrypted   = true
    kms_key_id  = var.kms_key_arn
  }

  tags = merge(var.tags, { Name = "${var.name_prefix}-${each.key}", Role = each.value.role })

  lifecycle {
    ignore_changes = [ami]
  }
}
